/*
 * Qingfeng (清风) web chat: the page side of the JSON API in bot/web/app.py, for WeChat's
 * built-in browser and cheap Android phones. Plain ES2017, no modules, no framework, no
 * external resources; every text from the server or the cadre becomes a text node, never
 * markup.
 *
 * Stable hooks (the browser tests rely on them):
 *   body.busy                     an action is queued or on its way
 *   body.ready                    the first screen is drawn (and the performance mark
 *                                 "qingfeng:first-screen" set)
 *   #log                          the message list (aria-live)
 *   .bubble.bot[data-ref=N]       the bot's screen N (.has-chips while it has options);
 *                                 .bubble.bot.old: history, no ref; .bubble.bot.typing: "…"
 *   .bubble.me                    the cadre's bubble (.pending while on its way; data-ref
 *                                 once the server numbered a typed message)
 *   .notice / .head / .text       a screen's notices, its title and step, its body
 *   .chip[data-act][data-q][data-v]  an option (a, q, v of its action); .chip.on / .off and
 *                                 aria-pressed for a choice's state; .chip.primary
 *   .row.scale / .row.nav / .row.edit / .row.split   how a row of options is laid out
 *   .grid                         a grid question's table of chips, inside .chips; each of
 *                                 its rows .grid-row[data-number=N] (.required, .answered)
 *                                 holds a .grid-label (the row's number and label) and a
 *                                 .grid-cells group (.scale for numbers) of
 *                                 .chip[data-act=cell], the chosen one .on, aria-pressed;
 *                                 .grid.stacked where a row's chips did not fit on one line
 *   .link[data-act=resume]        "continue with a code" under the welcome
 *   .sys.connecting / .sys.error  setting up the session; network trouble, with
 *                                 .chip[data-act=retry]; .sys.again with .chip[data-act=again]
 *   #text #send #counter(.over)   the input bar and its character counter
 *   #restart #later #lang         top bar: start over, save for later, language switch
 *   #progress #progress-label     top bar: progress of the current screen ("3/34"); the
 *                                 #progress-bar follows the screen's fraction when it has one
 *   #elsewhere                    top bar link to /followup (to / on the follow-up page)
 *   .toast                        a passing note; .overlay .dialog: a dialog, its buttons
 *                                 [data-act=ok] and [data-act=cancel]; #resume-code its input
 */
(function () {
  'use strict';

  var body = document.body;

  var DEFAULTS = {
    title: '清风',
    connecting: '正在建立安全连接…',
    send: '发送',
    placeholder: '在这里输入…',
    later: '稍后继续',
    resume_link: '用回执码/继续码继续',
    resume_prompt: '请输入继续码',
    network_error: '网络不好，请稍后再试',
    retry: '重试',
    ok: '知道了',
    cancel: '取消',
    too_long: '超出字数限制',
    followup_title: '查看回复',
    survey_link: '参与问卷',
    start_over: '重新开始'
  };
  var TOKEN_KEY = 'qingfeng.token';
  var SERVER_TEXT_MAX = 4000;
  var TRIES = 5;
  var SURVEY_ACTS = {
    ans: 1, tog: 1, cell: 1, fill: 1, done: 1, skip: 1, back: 1, edit: 1, rev: 1, sub: 1, cxl: 1
  };
  var NAV_ACTS = { back: 1, skip: 1, cxl: 1, rev: 1 };
  var PRIMARY_ACTS = { go: 1, res: 1, done: 1, sub: 1, 'fu-ans': 1 };
  var MARKS = /^(?:\u2611\uFE0F?|\u2B1C|\uD83D\uDD18)\s*/; // ☑️ ⬜ 🔘: a choice's state
  var LEADING_SYMBOLS = /^(?:[\uD83C-\uDBFF][\uDC00-\uDFFF]|[\u2190-\u21FF\u2300-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u20E3\s])+/;

  var config = readConfig();
  if (/^en/.test(config.locale || '')) DEFAULTS.cancel = 'Cancel';
  var strings = config.strings || {};
  var mode = config.mode === 'followup' ? 'followup' : 'survey';
  var $ = function (id) { return document.getElementById(id); };
  var log = $('log');
  var textarea = $('text');
  var sendButton = $('send');
  var counter = $('counter');
  var laterButton = $('later');

  var token = loadToken();
  var lastSeq = 0;
  var queue = [];
  var running = false;
  var current = null; // the bubble whose screen is the cadre's current one
  var toastTimer = 0;
  var restarts = 0; // fresh sessions in a row without an answer
  var pageChallenge = config.challenge || null; // saves a round trip for the first session
  var connecting = null; // the session being set up

  function readConfig() {
    try {
      var parsed = JSON.parse(body.getAttribute('data-config') || '{}');
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch (e) {
      return {};
    }
  }

  function t(key) {
    var value = strings[key];
    return typeof value === 'string' && value ? value : DEFAULTS[key];
  }

  function loadToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }

  function storeToken(value) {
    token = value;
    try {
      if (value) window.sessionStorage.setItem(TOKEN_KEY, value);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* private mode: the token lives as long as the page */ }
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.appendChild(document.createTextNode(String(text)));
    return node;
  }

  function chars(text) {
    return Array.from(text).length;
  }

  // --- HTTP ------------------------------------------------------------------------------

  function NetworkTrouble() {}

  function post(path, payload) {
    var headers = { 'Content-Type': 'application/json' };
    if (token && path !== '/api/challenge' && path !== '/api/session') {
      headers['X-Qingfeng-Session'] = token;
    }
    var options = {
      method: 'POST',
      headers: headers,
      body: JSON.stringify(payload),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer'
    };
    var timer = 0;
    if (window.AbortController) {
      var controller = new AbortController();
      options.signal = controller.signal;
      timer = setTimeout(function () { controller.abort(); }, 20000);
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        var wait = parseInt(response.headers.get('Retry-After') || '', 10);
        return { status: response.status, data: data || {}, retryAfter: isNaN(wait) ? 1 : wait };
      });
    }, function () {
      return { status: 0, data: {}, retryAfter: 0 };
    }).then(function (result) {
      clearTimeout(timer);
      return result;
    });
  }

  /* One request, retried with the same body on network failure and 5xx (1 s, 2 s, 4 s…),
     after Retry-After on 429. Throws NetworkTrouble after TRIES failures. */
  async function call(path, payload) {
    var failures = 0;
    var waits = 0;
    for (;;) {
      var result = await post(path, payload);
      if (result.status === 429 && waits < 30) {
        waits += 1;
        await sleep(Math.min(Math.max(result.retryAfter, 1), 60) * 1000);
        continue;
      }
      var final = result.data.error === 'campaign_full';
      if (result.status === 0 || (result.status >= 500 && !final)) {
        failures += 1;
        if (failures >= TRIES) throw new NetworkTrouble();
        await sleep(1000 * Math.pow(2, failures - 1));
        continue;
      }
      return result;
    }
  }

  /* `call`, and when it gives up a gentle note with a retry chip; retries on its tap. */
  async function reliable(path, payload) {
    for (;;) {
      try {
        return await call(path, payload);
      } catch (e) {
        if (!(e instanceof NetworkTrouble)) throw e;
        await offerRetry(t('network_error'));
      }
    }
  }

  function offerRetry(message) {
    var wasBusy = body.classList.contains('busy');
    return new Promise(function (resolve) {
      hideTyping();
      var note = el('div', 'sys error', message);
      note.setAttribute('role', 'alert');
      var chip = el('button', 'chip primary', t('retry'));
      chip.type = 'button';
      chip.setAttribute('data-act', 'retry');
      chip.addEventListener('click', function () {
        if (note.parentNode) note.parentNode.removeChild(note);
        resolve();
      });
      note.appendChild(chip);
      log.appendChild(note);
      setBusy(false);
      scrollToNewest();
    }).then(function () { setBusy(wasBusy); });
  }

  // --- the session -----------------------------------------------------------------------

  function hexBytes(hex) {
    var bytes = new Uint8Array(hex.length >> 1);
    for (var i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    return bytes;
  }

  function same(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /* SHA-256 in plain JavaScript, for a page opened over plain http (no WebCrypto there). */
  var K = null;
  function sha256(bytes) {
    var i, j;
    if (!K) {
      K = [];
      var primes = [];
      for (var c = 2; primes.length < 64; c++) {
        var prime = true;
        for (j = 0; j < primes.length && primes[j] * primes[j] <= c; j++) if (c % primes[j] === 0) prime = false;
        if (prime) primes.push(c);
      }
      K.init = [];
      for (i = 0; i < 64; i++) {
        K[i] = (Math.pow(primes[i], 1 / 3) % 1) * 4294967296 | 0;
        if (i < 8) K.init[i] = (Math.pow(primes[i], 1 / 2) % 1) * 4294967296 | 0;
      }
    }
    var length = bytes.length;
    var words = new Array(((length + 9 + 63) >> 6) << 4);
    for (i = 0; i < words.length; i++) words[i] = 0;
    for (i = 0; i < length; i++) words[i >> 2] |= bytes[i] << (24 - (i % 4) * 8);
    words[length >> 2] |= 0x80 << (24 - (length % 4) * 8);
    words[words.length - 1] = length * 8;
    var h = K.init.slice();
    var w = new Array(64);
    for (var block = 0; block < words.length; block += 16) {
      for (i = 0; i < 64; i++) {
        if (i < 16) {
          w[i] = words[block + i] | 0;
        } else {
          var x = w[i - 15];
          var y = w[i - 2];
          var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
          var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
          w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
        }
      }
      var a = h[0], b = h[1], cc = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & cc) ^ (b & cc))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = cc; cc = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + cc) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    var out = new Uint8Array(32);
    for (i = 0; i < 32; i++) out[i] = (h[i >> 2] >>> (24 - (i % 4) * 8)) & 255;
    return out;
  }

  function utf8(text) {
    if (window.TextEncoder) return new TextEncoder().encode(text);
    var raw = unescape(encodeURIComponent(text));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  /* The proof of work (altcha v1): the n in [0, maxNumber] whose SHA-256(salt + n) is the
     challenge. WebCrypto in batches where the page is a secure context. */
  async function solve(challenge) {
    var target = hexBytes(String(challenge.challenge).toLowerCase());
    var salt = String(challenge.salt);
    var max = Number(challenge.maxNumber) || 0;
    var subtle = window.crypto && window.crypto.subtle;
    var start, n;
    if (subtle && window.isSecureContext !== false) {
      try {
        for (start = 0; start <= max; start += 400) {
          var batch = [];
          for (n = start; n <= Math.min(max, start + 399); n++) {
            batch.push(subtle.digest('SHA-256', utf8(salt + n)));
          }
          var hashes = await Promise.all(batch);
          for (n = 0; n < hashes.length; n++) {
            if (same(new Uint8Array(hashes[n]), target)) return start + n;
          }
        }
        return null;
      } catch (e) { /* no usable WebCrypto after all: compute it here */ }
    }
    for (start = 0; start <= max; start += 2000) {
      for (n = start; n <= Math.min(max, start + 1999); n++) {
        if (same(sha256(utf8(salt + n)), target)) return n;
      }
      await sleep(0);
    }
    return null;
  }

  function showConnecting() {
    var note = el('div', 'sys connecting');
    note.appendChild(el('span', 'spinner'));
    note.appendChild(document.createTextNode(t('connecting')));
    log.appendChild(note);
    return note;
  }

  function fail(message) {
    var error = new Error(message);
    error.shown = message;
    return error;
  }

  /* A new session: challenge (the one in the page first), proof of work, token. */
  async function connect() {
    for (var attempt = 0; ; attempt++) {
      var challenge = pageChallenge;
      pageChallenge = null;
      if (!challenge) {
        var issued = await reliable('/api/challenge', {});
        challenge = issued.data.challenge;
        if (issued.status !== 200 || !challenge) throw fail(issued.data.message || t('network_error'));
      }
      var number = await solve(challenge);
      var created = await reliable('/api/session', {
        pow: {
          algorithm: challenge.algorithm,
          challenge: challenge.challenge,
          number: number,
          salt: challenge.salt,
          signature: challenge.signature
        },
        locale: config.locale || 'zh-CN',
        campaign: config.campaign || null,
        mode: mode
      });
      if ((created.status === 200 || created.status === 201) && created.data.token) {
        storeToken(created.data.token);
        lastSeq = Number(created.data.seq) || 0;
        return;
      }
      if (created.data.error !== 'pow_invalid' || attempt >= 2) {
        throw fail(created.data.message || t('network_error'));
      }
    }
  }

  /* One session set-up at a time, shared by whoever needs it. */
  function ensureSession() {
    if (token) return Promise.resolve();
    if (!connecting) {
      connecting = connect().then(function () {
        connecting = null;
      }, function (e) {
        connecting = null;
        throw e;
      });
    }
    return connecting;
  }

  async function syncSeq() {
    var state = await reliable('/api/state', {});
    if (state.status === 200 && typeof state.data.seq === 'number') {
      lastSeq = state.data.seq;
      return true;
    }
    if (state.status === 401) storeToken(null);
    return false;
  }

  function firstEvent() {
    return mode === 'followup' ? { type: 'followup', code: '' } : { type: 'start' };
  }

  // --- actions, one at a time ------------------------------------------------------------

  function enqueue(event, context) {
    queue.push({ event: event, context: context || {} });
    pump();
  }

  async function pump() {
    if (running) return;
    running = true;
    setBusy(true);
    try {
      while (queue.length) {
        var job = queue.shift();
        try {
          await perform(job);
        } catch (e) {
          if (!(e && e.shown)) {
            if (window.console) console.error(e); // a fault of the page: drop that action
            continue;
          }
          await offerRetry(e.shown);
          queue.unshift(job);
          continue;
        }
        if (job.context.done) job.context.done();
      }
    } finally {
      running = false;
      hideTyping();
      setBusy(false);
      refresh();
    }
  }

  async function perform(job) {
    if (!token) {
      var note = showConnecting();
      try {
        await ensureSession();
      } finally {
        if (note.parentNode) note.parentNode.removeChild(note);
      }
    }
    var seq = lastSeq + 1;
    var typing = setTimeout(showTyping, 500);
    try {
      for (var resync = 0; ; resync++) {
        var result = await reliable('/api/act', { seq: seq, event: job.event });
        var code = result.data.error;
        if (result.status === 200) {
          restarts = 0;
          lastSeq = typeof result.data.seq === 'number' ? result.data.seq : seq;
          apply(result.data, job);
          return;
        }
        if (result.status === 401 || (result.status === 409 && !(await syncSeq()))) {
          restart(job);
          return;
        }
        if (code === 'replay_expired') {
          // That action was taken but its answer is lost: show where things stand now.
          if (job.context.mine && job.context.mine.parentNode) job.context.mine.classList.remove('pending');
          if (job.context.bubble) release(job.context.bubble);
          queue.unshift({ event: firstEvent(), context: {} });
          return;
        }
        if (result.status === 409 && resync < 3) {
          seq = lastSeq + 1;
          continue;
        }
        refused(job, result);
        return;
      }
    } finally {
      clearTimeout(typing);
      hideTyping();
    }
  }

  /* The session is gone (expired or unknown): a fresh one, transparently. */
  function restart(job) {
    storeToken(null);
    lastSeq = 0;
    queue.length = 0;
    clearLog();
    if (job.event.type === 'text' && !textarea.value) {
      textarea.value = job.event.body;
      fitTextarea();
    }
    restarts += 1;
    if (restarts > 3) {
      restarts = 0;
      throw fail(t('network_error'));
    }
    queue.push({ event: firstEvent(), context: {} });
  }

  function refused(job, result) {
    var message = result.data.message || t('network_error');
    var context = job.context;
    if (context.mine && context.mine.parentNode) {
      context.mine.parentNode.removeChild(context.mine);
      if (!textarea.value) {
        textarea.value = job.event.body;
        fitTextarea();
      }
    }
    if (context.bubble) release(context.bubble);
    if (context.toggle) unflip(context);
    if (context.cell) unpick(context);
    showToast(message, result.status !== 429 && result.data.error !== 'text_too_long');
  }

  // --- applying the server's ops ---------------------------------------------------------

  function byRef(ref) {
    return log.querySelector('[data-ref="' + Number(ref) + '"]');
  }

  function apply(response, job) {
    var context = job.context;
    var labelled = false;
    if (context.mine) {
      context.mine.classList.remove('pending');
      if (response.ref != null) context.mine.setAttribute('data-ref', String(response.ref));
    }
    var ops = response.ops || [];
    for (var i = 0; i < ops.length; i++) {
      var op = ops[i] || {};
      var pressed = context.ref != null && Number(op.ref) === context.ref && !context.inPlace;
      if (op.op === 'show') {
        var shown = bubble(op.screen || {}, op.ref);
        var existing = byRef(op.ref);
        if (existing) log.replaceChild(shown, existing);
        else log.appendChild(shown);
      } else if (op.op === 'replace') {
        var old = byRef(op.ref);
        var fresh = bubble(op.screen || {}, op.ref);
        if (old && pressed && !labelled) {
          retire(old);
          old.removeAttribute('data-ref');
          old.classList.add('old');
          addMine(context.label);
          labelled = true;
          log.appendChild(fresh);
        } else if (old) {
          log.replaceChild(fresh, old);
          if (current === old) current = fresh;
          replayToggles(fresh, op.ref);
          replayCells(fresh, op.ref);
        } else {
          log.appendChild(fresh);
        }
      } else if (op.op === 'retire') {
        var retired = byRef(op.ref);
        if (retired) retire(retired);
        if (pressed && !labelled && retired && showsLater(ops, i)) {
          addMine(context.label);
          labelled = true;
        }
      } else if (op.op === 'delete') {
        var gone = byRef(op.ref);
        if (gone) gone.parentNode.removeChild(gone);
      } else if (op.op === 'clear') {
        clearLog();
      } else if (op.op === 'toast') {
        if (op.text) showToast(String(op.text), !!op.alert);
      }
    }
    if (context.bubble && context.bubble.parentNode) release(context.bubble);
    fitGrids(log);
    if (context.toggle && !redrawn(ops, context.ref)) unflip(context);
    if (context.cell && !redrawn(ops, context.ref)) unpick(context);
    if (!body.classList.contains('ready')) {
      body.classList.add('ready');
      if (window.performance && performance.mark) performance.mark('qingfeng:first-screen');
    }
    scrollToNewest();
  }

  function redrawn(ops, ref) {
    for (var i = 0; i < ops.length; i++) if (ops[i] && ops[i].op === 'replace' && ops[i].ref === ref) return true;
    return false;
  }

  /* A choice the server did not take (too many, say) goes back as it was. */
  function unflip(context) {
    var node = byRef(context.ref);
    var chips = node ? node.querySelectorAll('.chip[data-act="tog"]') : [];
    for (var i = 0; i < chips.length; i++) {
      if (chips[i].getAttribute('data-v') === context.value) flip(chips[i]);
    }
  }

  /* A grid cell pressed shows at once: the chosen cell of its row on, the others off (the
     chosen one again on an optional row: none). Returns the row's choice before and after. */
  function pick(button) {
    var cells = button.parentNode ? button.parentNode.querySelectorAll('.chip[data-act="cell"]') : [];
    var before = null;
    for (var i = 0; i < cells.length; i++) if (cells[i].classList.contains('on')) before = cells[i].getAttribute('data-v');
    var line = button.closest('.grid-row');
    var clears = before === button.getAttribute('data-v') && !(line && line.classList.contains('required'));
    var after = clears ? null : button.getAttribute('data-v');
    choose(cells, after);
    return { before: before, after: after };
  }

  function choose(cells, value) {
    var line = cells.length ? cells[0].closest('.grid-row') : null;
    if (line) line.classList.toggle('answered', value !== null);
    for (var i = 0; i < cells.length; i++) {
      var on = value !== null && cells[i].getAttribute('data-v') === value;
      cells[i].classList.toggle('on', on);
      cells[i].classList.toggle('off', !on);
      cells[i].setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }

  function rowCells(node, question) {
    var found = [];
    var cells = node ? node.querySelectorAll('.chip[data-act="cell"]') : [];
    for (var i = 0; i < cells.length; i++) if (cells[i].getAttribute('data-q') === question) found.push(cells[i]);
    return found;
  }

  /* A cell the server did not take goes back to what its row had. */
  function unpick(context) {
    choose(rowCells(byRef(context.ref), context.question), context.before);
  }

  /* Cells still waiting in the queue show on the re-drawn screen at once. */
  function replayCells(node, ref) {
    for (var i = 0; i < queue.length; i++) {
      var context = queue[i].context;
      if (context.cell && context.ref === Number(ref)) choose(rowCells(node, context.question), context.after);
    }
  }

  /* Whether a new screen follows op i: a press that only retires its screen was refused. */
  function showsLater(ops, i) {
    for (var j = i + 1; j < ops.length; j++) if (ops[j] && ops[j].op === 'show') return true;
    return false;
  }

  function retire(node) {
    var chips = node.querySelector('.chips');
    if (chips) node.removeChild(chips);
    node.classList.remove('has-chips');
    node.classList.add('retired');
    node.screen = null;
  }

  function clearLog() {
    while (log.firstChild) log.removeChild(log.firstChild);
    current = null;
  }

  /* Toggles still waiting in the queue show on the re-drawn screen at once. */
  function replayToggles(node, ref) {
    for (var i = 0; i < queue.length; i++) {
      var context = queue[i].context;
      if (context.toggle && context.ref === Number(ref)) {
        var action = queue[i].event.action;
        var chips = node.querySelectorAll('.chip[data-act="tog"]');
        for (var j = 0; j < chips.length; j++) {
          if (chips[j].getAttribute('data-v') === action.v) flip(chips[j]);
        }
      }
    }
  }

  // --- drawing ---------------------------------------------------------------------------

  function runs(parent, list) {
    if (typeof list === 'string') list = [['', list]];
    if (!list || !list.length) return;
    for (var i = 0; i < list.length; i++) {
      var run = list[i] || [];
      var node = document.createTextNode(run[1] == null ? '' : String(run[1]));
      var style = run[0];
      if (style === 'b' || style === 'i' || style === 'code') {
        var wrapper = document.createElement(style);
        wrapper.appendChild(node);
        parent.appendChild(wrapper);
      } else {
        parent.appendChild(node);
      }
    }
  }

  function bubble(screen, ref) {
    var node = el('div', 'bubble bot');
    if (ref != null) node.setAttribute('data-ref', String(Number(ref)));
    node.screen = screen;
    var notices = screen.notices || [];
    for (var i = 0; i < notices.length; i++) {
      var notice = el('div', 'notice');
      runs(notice, notices[i]);
      node.appendChild(notice);
    }
    if (screen.title || screen.progress) {
      var head = el('div', 'head');
      if (screen.title) head.appendChild(el('span', 'title', screen.title));
      if (screen.progress && screen.progress.label) {
        head.appendChild(el('span', 'step', screen.progress.label));
      }
      node.appendChild(head);
    }
    var text = el('div', 'text');
    runs(text, screen.body);
    node.appendChild(text);
    var chips = options(screen.rows || [], screen.grid || []);
    if (chips) {
      node.appendChild(chips);
      node.classList.add('has-chips');
      if (chips.querySelector('.grid')) node.classList.add('has-grid');
    }
    return node;
  }

  function choiceState(option) {
    var label = String(option.label == null ? '' : option.label);
    var selected = option.selected;
    var mark = label.match(MARKS);
    if (mark) {
      label = label.slice(mark[0].length);
      if (selected == null) selected = mark[0].charAt(0) !== '\u2B1C';
    }
    return { label: label, selected: selected };
  }

  function actOf(option) {
    return option.action && typeof option.action.a === 'string' ? option.action.a : '';
  }

  /* A grid question: one line per row, its number and label, then its cells (under the
     label where the screen is narrow). */
  function gridTable(lines) {
    var table = el('div', 'grid');
    var cells = 0;
    for (var r = 0; r < lines.length; r++) {
      var line = lines[r] || {};
      var row = line.options || [];
      if (!row.length) continue;
      var item = el('div', 'grid-row');
      var number = line.number == null ? '' : String(line.number);
      item.setAttribute('data-number', number);
      if (line.required) item.classList.add('required');
      if (line.answered) item.classList.add('answered');
      var label = el('div', 'grid-label');
      if (number) label.appendChild(el('span', 'grid-number', number + '.'));
      label.appendChild(document.createTextNode(String(line.label == null ? '' : line.label)));
      item.appendChild(label);
      var group = el('div', 'grid-cells');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', (number ? number + '. ' : '') + String(line.label == null ? '' : line.label));
      var digits = true;
      for (var k = 0; k < row.length; k++) {
        if (!/^\d+$/.test(choiceState(row[k]).label)) digits = false;
        group.appendChild(chip(row[k]));
      }
      if (digits) group.classList.add('scale');
      item.appendChild(group);
      table.appendChild(item);
      cells += row.length;
    }
    return cells ? table : null;
  }

  /* A grid whose chips' words do not fit side by side (long English words on a small phone)
     puts them two to a line instead: measured, since fonts differ from phone to phone. */
  function fitGrids(root) {
    var grids = root.querySelectorAll('.grid');
    for (var g = 0; g < grids.length; g++) {
      var grid = grids[g];
      grid.classList.remove('stacked');
      var chips = grid.querySelectorAll('.chip');
      for (var c = 0; c < chips.length; c++) {
        if (chips[c].scrollWidth > chips[c].clientWidth + 1) {
          grid.classList.add('stacked');
          break;
        }
      }
    }
  }

  function options(rows, grid) {
    var wrap = el('div', 'chips');
    var nav = [];
    var scale = [];
    var count = 0;
    var hasGo = false;
    var table = grid && grid.length ? gridTable(grid) : null;
    if (table) {
      wrap.appendChild(table);
      count += table.querySelectorAll('.chip').length;
    }
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r] || [];
      if (!row.length) continue;
      var allNav = true;
      var allDigits = true;
      var allEdit = true;
      for (var k = 0; k < row.length; k++) {
        var a = actOf(row[k]);
        if (!NAV_ACTS[a]) allNav = false;
        if (a !== 'edit') allEdit = false;
        if (!/^\d+$/.test(choiceState(row[k]).label)) allDigits = false;
        if (a === 'go') hasGo = true;
      }
      count += row.length;
      if (allNav) {
        nav = nav.concat(row);
        continue;
      }
      var line = el('div', 'row');
      if (allDigits && !allEdit) {
        line.classList.add('scale');
        scale.push(line);
      } else if (allEdit) {
        line.classList.add('edit');
      } else if (row.length > 1) {
        line.classList.add('split');
      }
      for (var j = 0; j < row.length; j++) line.appendChild(chip(row[j]));
      wrap.appendChild(line);
    }
    if (!count) return null;
    // a scale split over rows keeps chips of one width
    var widest = 0;
    for (var s = 0; s < scale.length; s++) widest = Math.max(widest, scale[s].children.length);
    for (s = 0; s < scale.length; s++) {
      for (var gap = scale[s].children.length; gap < widest; gap++) scale[s].appendChild(el('span', 'gap'));
    }
    if (nav.length) {
      var navRow = el('div', 'row nav');
      for (var n = 0; n < nav.length; n++) navRow.appendChild(chip(nav[n]));
      wrap.appendChild(navRow);
    }
    if (hasGo && mode === 'survey') {
      var link = el('button', 'link', t('resume_link'));
      link.type = 'button';
      link.setAttribute('data-act', 'resume');
      wrap.appendChild(link);
    }
    return wrap;
  }

  function chip(option) {
    var action = option.action || {};
    var a = actOf(option);
    var state = choiceState(option);
    var button = el('button', 'chip', state.label);
    button.type = 'button';
    button.setAttribute('data-act', a);
    button.setAttribute('data-q', action.q == null ? '' : String(action.q));
    button.setAttribute('data-v', action.v == null ? '' : String(action.v));
    button.label = state.label;
    if (PRIMARY_ACTS[a]) button.classList.add('primary');
    if (state.selected === true || state.selected === false) {
      button.classList.add(state.selected ? 'on' : 'off');
      button.setAttribute('aria-pressed', state.selected ? 'true' : 'false');
    }
    return button;
  }

  function flip(button) {
    var on = !button.classList.contains('on');
    button.classList.toggle('on', on);
    button.classList.toggle('off', !on);
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
  }

  function addMine(text, pending) {
    var node = el('div', 'bubble me' + (pending ? ' pending' : ''), text);
    log.appendChild(node);
    return node;
  }

  /* The cadre's side of a tapped option: its words, without the leading symbols. */
  function spoken(button, node) {
    var a = button.getAttribute('data-act');
    var label = button.label || button.textContent;
    if (a === 'done' && !node.querySelector('.grid')) {
      var picked = node.querySelectorAll('.chip.on');
      var names = [];
      for (var i = 0; i < picked.length; i++) names.push(picked[i].label || picked[i].textContent);
      if (names.length) return names.join('、');
    }
    if (a === 'edit') return label;
    var plain = label.replace(LEADING_SYMBOLS, '');
    return plain || label;
  }

  function hold(node) {
    var buttons = node.querySelectorAll('.chips button');
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  function release(node) {
    var buttons = node.querySelectorAll('.chips button');
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = false;
  }

  var typingNode = null;
  function showTyping() {
    if (typingNode) return;
    typingNode = el('div', 'bubble bot typing');
    typingNode.setAttribute('aria-hidden', 'true');
    for (var i = 0; i < 3; i++) typingNode.appendChild(el('span'));
    log.appendChild(typingNode);
    scrollToNewest();
  }

  function hideTyping() {
    if (typingNode && typingNode.parentNode) typingNode.parentNode.removeChild(typingNode);
    typingNode = null;
  }

  function scrollToNewest() {
    var last = log.lastElementChild;
    if (!last) return;
    if (last.offsetHeight > log.clientHeight - 24) log.scrollTop = last.offsetTop - 12;
    else log.scrollTop = log.scrollHeight;
  }

  // --- the cadre's current screen: progress, input, "save for later" --------------------

  function findCurrent() {
    var bubbles = log.querySelectorAll('.bubble.bot[data-ref]');
    for (var i = bubbles.length - 1; i >= 0; i--) {
      var screen = bubbles[i].screen;
      if (screen && (bubbles[i].querySelector('.chip') || screen.input)) return bubbles[i];
    }
    return null;
  }

  function refresh() {
    current = findCurrent();
    var screen = current ? current.screen : null;
    var progress = screen && screen.progress;
    var box = $('progress');
    if (progress && progress.total > 0) {
      var bar = $('progress-bar');
      if (typeof progress.fraction === 'number' && progress.fraction >= 0) {
        bar.max = 1;
        bar.value = Math.min(progress.fraction, 1);
      } else {
        bar.max = progress.total;
        bar.value = Math.min(progress.position, progress.total);
      }
      var label = $('progress-label');
      label.textContent = progress.position + '/' + progress.total;
      label.title = progress.label || '';
      box.hidden = false;
    } else {
      box.hidden = true;
    }
    var inSurvey = false;
    if (current) {
      var chips = current.querySelectorAll('.chip');
      for (var i = 0; i < chips.length; i++) {
        if (SURVEY_ACTS[chips[i].getAttribute('data-act')]) inSurvey = true;
      }
    }
    laterButton.hidden = !(inSurvey && mode === 'survey');
    var input = screen && screen.input;
    textarea.setAttribute('inputmode', input && input.kind === 'number' ? 'numeric' : 'text');
    updateCounter();
    offerAgain();
  }

  /* Nothing left to tap or answer: one chip to begin again. */
  function offerAgain() {
    var again = log.querySelector('.sys.again');
    var wanted = !running && !current && body.classList.contains('ready');
    if (!wanted) {
      if (again) again.parentNode.removeChild(again);
      return;
    }
    if (again && again === log.lastElementChild) return;
    if (again) again.parentNode.removeChild(again);
    again = el('div', 'sys again');
    var chip = el('button', 'chip', t('start_over'));
    chip.type = 'button';
    chip.setAttribute('data-act', 'again');
    again.appendChild(chip);
    log.appendChild(again);
    scrollToNewest();
  }

  function inputMax() {
    var input = current && current.screen && current.screen.input;
    return input && input.max > 0 ? Math.min(input.max, SERVER_TEXT_MAX) : 0;
  }

  function updateCounter() {
    var max = inputMax();
    var length = chars(textarea.value);
    var over = length > (max || SERVER_TEXT_MAX);
    counter.hidden = !max;
    counter.textContent = max ? length + '/' + max : '';
    counter.classList.toggle('over', over);
    counter.title = over ? t('too_long') : '';
    sendButton.disabled = !textarea.value.trim() || over;
  }

  function fitTextarea() {
    textarea.rows = 1;
    var style = window.getComputedStyle(textarea);
    var line = parseFloat(style.lineHeight) || 22;
    var padding = (parseFloat(style.paddingTop) || 0) + (parseFloat(style.paddingBottom) || 0);
    var lines = Math.round((textarea.scrollHeight - padding) / line);
    textarea.rows = Math.max(1, Math.min(5, lines));
    updateCounter();
  }

  // --- what the cadre does ---------------------------------------------------------------

  function setBusy(on) {
    body.classList.toggle('busy', !!on);
  }

  function sendText() {
    var text = textarea.value;
    if (!text.trim()) return;
    if (chars(text) > (inputMax() || SERVER_TEXT_MAX)) {
      showToast(t('too_long'), false);
      return;
    }
    textarea.value = '';
    fitTextarea();
    var mine = addMine(text, true);
    scrollToNewest();
    enqueue({ type: 'text', body: text }, { mine: mine });
  }

  function press(button) {
    var node = button.closest('.bubble.bot[data-ref]');
    if (!node || button.disabled) return;
    var ref = Number(node.getAttribute('data-ref'));
    var a = button.getAttribute('data-act');
    var event = {
      type: 'press',
      action: { a: a, q: button.getAttribute('data-q') || '', v: button.getAttribute('data-v') || '' },
      ref: ref
    };
    if (a === 'tog') {
      flip(button);
      enqueue(event, { ref: ref, toggle: true, inPlace: true, value: event.action.v });
      return;
    }
    if (a === 'cell') {
      var picked = pick(button);
      enqueue(event, {
        ref: ref, cell: true, inPlace: true, question: event.action.q, before: picked.before, after: picked.after
      });
      return;
    }
    var label = spoken(button, node);
    hold(node);
    // "the rest: …" fills the grid where it is; everything else moves on
    enqueue(event, { ref: ref, label: label, bubble: node, inPlace: a === 'fill' });
  }

  function onLogClick(e) {
    var button = e.target.closest ? e.target.closest('button') : null;
    if (!button || !log.contains(button)) return;
    var a = button.getAttribute('data-act');
    if (a === 'resume') askResumeCode();
    else if (a === 'again') {
      button.parentNode.parentNode.removeChild(button.parentNode);
      enqueue(firstEvent());
    } else if (a === 'retry') {
      return; // handled by its own listener
    } else if (button.classList.contains('chip')) press(button);
  }

  // --- notes and dialogs -----------------------------------------------------------------

  function showToast(text, alert) {
    if (alert) {
      dialog(text, false);
      return;
    }
    var toast = document.querySelector('.toast');
    if (!toast) {
      toast = el('div', 'toast');
      toast.setAttribute('role', 'status');
      toast.setAttribute('aria-live', 'polite');
      body.appendChild(toast);
    }
    toast.textContent = text;
    toast.hidden = false;
    // force a style flush so the fade-in runs
    void toast.offsetWidth;
    toast.classList.add('shown');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      toast.classList.remove('shown');
      toastTimer = setTimeout(function () { toast.hidden = true; }, 400);
    }, Math.min(6000, 1800 + 60 * text.length));
  }

  /* A dialog: `ask` adds a text field and a cancel button; resolves with the field's text
     (or '' when only acknowledged), null when cancelled. */
  function dialog(text, ask) {
    return new Promise(function (resolve) {
      var overlay = el('div', 'overlay');
      var box = el('div', 'dialog');
      box.setAttribute('role', ask ? 'dialog' : 'alertdialog');
      box.setAttribute('aria-modal', 'true');
      var message = el('p', 'dialog-text', text);
      message.id = 'dialog-text';
      box.setAttribute('aria-labelledby', 'dialog-text');
      box.appendChild(message);
      var field = null;
      if (ask) {
        field = el('input');
        field.id = 'resume-code';
        field.type = 'text';
        field.setAttribute('autocomplete', 'off');
        field.setAttribute('autocapitalize', 'characters');
        field.setAttribute('spellcheck', 'false');
        field.setAttribute('aria-labelledby', 'dialog-text');
        box.appendChild(field);
      }
      var actions = el('div', 'dialog-actions');
      function close(value) {
        if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
        resolve(value);
      }
      if (ask) {
        var cancel = el('button', '', t('cancel'));
        cancel.type = 'button';
        cancel.setAttribute('data-act', 'cancel');
        cancel.addEventListener('click', function () { close(null); });
        actions.appendChild(cancel);
      }
      var ok = el('button', 'primary', t('ok'));
      ok.type = 'button';
      ok.setAttribute('data-act', 'ok');
      ok.addEventListener('click', function () { close(field ? field.value.trim() : ''); });
      actions.appendChild(ok);
      if (field) {
        field.addEventListener('keydown', function (e) {
          if (e.key === 'Enter') {
            e.preventDefault();
            ok.click();
          }
        });
      }
      box.appendChild(actions);
      overlay.appendChild(box);
      body.appendChild(overlay);
      (field || ok).focus();
    });
  }

  function askResumeCode() {
    dialog(t('resume_prompt'), true).then(function (code) {
      if (code) enqueue({ type: 'resume', code: code });
    });
  }

  // --- start -----------------------------------------------------------------------------

  function chrome() {
    document.title = t('title');
    $('title').textContent = t('title');
    var lang = config.locale ? '?lang=' + encodeURIComponent(config.locale) : '';
    var elsewhere = $('elsewhere');
    if (mode === 'followup') {
      var sub = $('subtitle');
      sub.textContent = t('followup_title');
      sub.hidden = false;
      elsewhere.textContent = t('survey_link');
      elsewhere.href = '/' + lang;
    } else {
      elsewhere.textContent = t('followup_title');
      elsewhere.href = '/followup' + lang;
    }
    sendButton.textContent = t('send');
    textarea.placeholder = t('placeholder');
    textarea.setAttribute('aria-label', t('placeholder'));
    laterButton.textContent = t('later');
    $('restart').textContent = t('start_over');
    var other = config.otherLocale;
    var switcher = $('lang');
    if (other && other.code && other.name) {
      switcher.textContent = other.name;
      switcher.href = location.pathname + '?lang=' + encodeURIComponent(other.code);
      switcher.setAttribute('hreflang', other.code);
      switcher.hidden = false;
      switcher.addEventListener('click', function (e) {
        e.preventDefault();
        var target = switcher.href;
        if (!token) {
          location.replace(target);
          return;
        }
        enqueue({ type: 'locale', locale: other.code }, {
          done: function () { location.replace(target); }
        });
      });
    }
  }

  function wire() {
    log.addEventListener('click', onLogClick);
    sendButton.addEventListener('click', function () {
      sendText();
      textarea.focus();
    });
    textarea.addEventListener('input', fitTextarea);
    textarea.addEventListener('keydown', function (e) {
      // Enter is a new line (phones); Ctrl/Cmd+Enter sends, for keyboards.
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        sendText();
      }
    });
    $('restart').addEventListener('click', function () {
      enqueue(firstEvent());
    });
    laterButton.addEventListener('click', function () {
      if (!laterButton.hidden) enqueue({ type: 'later' });
    });
    window.addEventListener('resize', function () {
      fitGrids(log);
      var gap = log.scrollHeight - log.scrollTop - log.clientHeight;
      if (gap < 120) log.scrollTop = log.scrollHeight;
    });
  }

  /* A new tab shows the welcome from the page itself and sets up its session meanwhile;
     a reloaded one asks where its session stands. */
  async function boot() {
    chrome();
    wire();
    fitTextarea();
    if (!token && config.first && config.first.length) {
      apply({ ops: config.first }, { context: {} });
      refresh();
      ensureSession().catch(function () { /* the first action tries again */ });
      return;
    }
    setBusy(true);
    if (token) {
      try {
        if (!(await syncSeq())) storeToken(null);
      } catch (e) {
        storeToken(null);
      }
    }
    enqueue(firstEvent());
  }

  boot();
})();

"""Request validation compiled once from the spec: types, required fields, JSON-in-form values.

Telegram accepts parameters as query string, urlencoded or multipart form (every value a
string; objects and arrays JSON-encoded) or as a JSON body. Each parameter type compiles to a
:class:`ValueType` that converts both spellings to plain Python values and reports mismatches
in Telegram's words. Unknown parameters and unknown object fields are dropped, as Telegram
ignores them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.harness.emulator.errors import bad_request
from bot.harness.emulator.files import UploadedFile
from bot.harness.emulator.spec import ApiSpec, FieldSpec, MethodSpec, TypeSpec

_INTEGER = re.compile(r"[+-]?\d+")
_ARRAY_OF = "Array of "
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})

#: Telegram's phrasing for a few missing required parameters; others read "<name> is empty".
_MISSING_WORDING: dict[str, str] = {
    "text": "message text is empty",
    "photo": "there is no photo in the request",
    "document": "there is no document in the request",
    "message_id": "message identifier is not specified",
    "callback_query_id": "query_id is empty",
}


class TypeMismatch(Exception):
    """The value itself has the wrong JSON kind; the container names the field."""


class NestedError(Exception):
    """A complete description of what is wrong inside a JSON object."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    """Per-request state the converters need: the multipart file parts by name."""

    uploads: Mapping[str, UploadedFile]


class ValueType:
    """A compiled parameter/field type; ``label`` is the spec spelling used in messages."""

    label: str = ""

    def from_json(self, value: object, ctx: ParseContext) -> object:
        raise NotImplementedError

    def from_form(self, raw: str, ctx: ParseContext) -> object:
        """Top-level string spelling; structured types arrive JSON-encoded."""
        try:
            decoded = json.loads(raw)
        except ValueError as error:
            raise TypeMismatch from error
        return self.from_json(decoded, ctx)

    @property
    def is_structured(self) -> bool:
        return False


class IntegerType(ValueType):
    label = "Integer"

    def from_json(self, value: object, ctx: ParseContext) -> int:
        if isinstance(value, bool):
            raise TypeMismatch
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
        raise TypeMismatch

    def from_form(self, raw: str, ctx: ParseContext) -> int:
        if _INTEGER.fullmatch(raw.strip()):
            return int(raw)
        raise TypeMismatch


class FloatType(ValueType):
    label = "Float"

    def from_json(self, value: object, ctx: ParseContext) -> float:
        if isinstance(value, bool):
            raise TypeMismatch
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return self.from_form(value, ctx)
        raise TypeMismatch

    def from_form(self, raw: str, ctx: ParseContext) -> float:
        try:
            number = float(raw)
        except ValueError as error:
            raise TypeMismatch from error
        if not math.isfinite(number):
            raise TypeMismatch
        return number


class StringType(ValueType):
    label = "String"

    def from_json(self, value: object, ctx: ParseContext) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return json.dumps(value)
        raise TypeMismatch

    def from_form(self, raw: str, ctx: ParseContext) -> str:
        return raw


class BooleanType(ValueType):
    label = "Boolean"

    def from_json(self, value: object, ctx: ParseContext) -> bool:
        if isinstance(value, bool):
            return value
        raise TypeMismatch

    def from_form(self, raw: str, ctx: ParseContext) -> bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise TypeMismatch


@dataclass(frozen=True, slots=True)
class FileReference:
    """An ``InputFile or String`` value that is not an upload: a file_id or an HTTP URL."""

    value: str

    @property
    def is_url(self) -> bool:
        return self.value.startswith(("http://", "https://"))


class InputFileType(ValueType):
    """Uploads arrive as multipart parts, named directly or via ``attach://<part>``."""

    label = "InputFile"

    def from_json(self, value: object, ctx: ParseContext) -> UploadedFile | FileReference:
        if isinstance(value, UploadedFile):
            return value
        if isinstance(value, str):
            return self.from_form(value, ctx)
        raise TypeMismatch

    def from_form(self, raw: str, ctx: ParseContext) -> UploadedFile | FileReference:
        if raw.startswith("attach://"):
            name = raw.removeprefix("attach://")
            upload = ctx.uploads.get(name)
            if upload is None:
                raise NestedError(f'can\'t find attached file "{name}"')
            return upload
        return FileReference(raw.strip())


class ArrayType(ValueType):
    def __init__(self, item: ValueType, label: str) -> None:
        self.item = item
        self.label = label

    @property
    def is_structured(self) -> bool:
        return True

    def from_json(self, value: object, ctx: ParseContext) -> list[object]:
        if not isinstance(value, list):
            raise TypeMismatch
        return [self.item.from_json(element, ctx) for element in value]


class ObjectType(ValueType):
    """A concrete spec object; returns a dict of its known fields, converted."""

    def __init__(self, spec: TypeSpec) -> None:
        self.spec = spec
        self.label = spec.name
        self.fields: dict[str, tuple[ValueType, bool, str]] = {}
        self.required: tuple[str, ...] = tuple(f.name for f in spec.fields if f.required)

    @property
    def is_structured(self) -> bool:
        return True

    def from_json(self, value: object, ctx: ParseContext) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeMismatch
        for name in self.required:
            if value.get(name) is None:
                raise NestedError(f'Can\'t find field "{name}"')
        result: dict[str, Any] = {}
        for name, raw in value.items():
            compiled = self.fields.get(name)
            if compiled is None or raw is None:
                continue
            field_type, _, label = compiled
            try:
                result[name] = field_type.from_json(raw, ctx)
            except TypeMismatch as error:
                raise NestedError(f'Field "{name}" must be of type {label}') from error
        return result


class OpaqueObjectType(ValueType):
    """A type outside the shipped subset: any JSON object passes unchanged."""

    def __init__(self, name: str) -> None:
        self.label = name

    @property
    def is_structured(self) -> bool:
        return True

    def from_json(self, value: object, ctx: ParseContext) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeMismatch
        return value


class AbstractType(ValueType):
    """A spec type with subtypes selected by ``type``/``status`` (e.g. BotCommandScope)."""

    def __init__(self, spec: TypeSpec) -> None:
        self.label = spec.name
        self.field_name = "type"
        self.variants: dict[str, ValueType] = {}

    @property
    def is_structured(self) -> bool:
        return True

    def from_json(self, value: object, ctx: ParseContext) -> object:
        if not isinstance(value, dict):
            raise TypeMismatch
        kind = value.get(self.field_name)
        if kind is None:
            raise NestedError(f'Can\'t find field "{self.field_name}"')
        if not isinstance(kind, str):
            raise NestedError(f'Field "{self.field_name}" must be of type String')
        variant = self.variants.get(kind)
        if variant is None:
            raise NestedError(f'Unsupported {self.label} {self.field_name} "{kind}"')
        return variant.from_json(value, ctx)


class UnionType(ValueType):
    """``Integer or String``, ``InputFile or String``, or alternative object types.

    Scalars are tried in spec order; objects are told apart by which alternative's required
    fields are all present (``inline_keyboard`` vs ``keyboard`` vs ``remove_keyboard``...).
    """

    def __init__(self, alternatives: list[ValueType], label: str) -> None:
        self.alternatives = alternatives
        self.label = label

    @property
    def is_structured(self) -> bool:
        return all(alt.is_structured for alt in self.alternatives)

    def _pick_object(self, value: dict[str, Any]) -> ValueType:
        for alt in self.alternatives:
            if isinstance(alt, ObjectType) and all(
                value.get(name) is not None for name in alt.required
            ):
                return alt
        return self.alternatives[0]

    def from_json(self, value: object, ctx: ParseContext) -> object:
        if isinstance(value, dict) and self.is_structured:
            return self._pick_object(value).from_json(value, ctx)
        for alt in self.alternatives:
            try:
                return alt.from_json(value, ctx)
            except TypeMismatch:
                continue
        raise TypeMismatch

    def from_form(self, raw: str, ctx: ParseContext) -> object:
        if self.is_structured:
            return super().from_form(raw, ctx)
        for alt in self.alternatives:
            try:
                return alt.from_form(raw, ctx)
            except TypeMismatch:
                continue
        raise TypeMismatch


class TypeCompiler:
    """Turns spec type expressions into shared :class:`ValueType` instances (cycles allowed)."""

    _SCALARS: Mapping[str, Callable[[], ValueType]] = {
        "Integer": IntegerType,
        "Float": FloatType,
        "String": StringType,
        "Boolean": BooleanType,
        "True": BooleanType,
        "InputFile": InputFileType,
    }

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self._named: dict[str, ValueType] = {}

    def compile_field(self, field: FieldSpec) -> ValueType:
        if len(field.types) == 1:
            return self.compile_expression(field.types[0])
        alternatives = [self.compile_expression(t) for t in field.types]
        return UnionType(alternatives, " or ".join(field.types))

    def compile_expression(self, expression: str) -> ValueType:
        if expression.startswith(_ARRAY_OF):
            return ArrayType(self.compile_expression(expression[len(_ARRAY_OF) :]), expression)
        return self._compile_named(expression)

    def _compile_named(self, name: str) -> ValueType:
        compiled = self._named.get(name)
        if compiled is not None:
            return compiled
        scalar = self._SCALARS.get(name)
        if scalar is not None:
            compiled = scalar()
            self._named[name] = compiled
            return compiled
        spec = self.spec.types.get(name)
        if spec is None:
            compiled = OpaqueObjectType(name)
            self._named[name] = compiled
            return compiled
        if spec.subtypes:
            abstract = AbstractType(spec)
            self._named[name] = abstract
            for subtype_name in spec.subtypes:
                subtype = self.spec.types.get(subtype_name)
                if subtype is None or subtype.discriminator is None:
                    continue
                abstract.field_name = subtype.discriminator_field or "type"
                abstract.variants[subtype.discriminator] = self._compile_named(subtype_name)
            return abstract
        obj = ObjectType(spec)
        self._named[name] = obj  # registered before fields: types may refer to themselves
        for field in spec.fields:
            obj.fields[field.name] = (
                self.compile_field(field),
                field.required,
                " or ".join(field.types),
            )
        return obj


@dataclass(frozen=True, slots=True)
class CompiledParameter:
    name: str
    value_type: ValueType
    required: bool
    label: str


class RequestValidator:
    """Validates one method's parameters; built once per method, reused for every request."""

    def __init__(self, method: MethodSpec, compiler: TypeCompiler) -> None:
        self.method = method
        self.parameters: dict[str, CompiledParameter] = {
            f.name: CompiledParameter(
                name=f.name,
                value_type=compiler.compile_field(f),
                required=f.required,
                label=" or ".join(f.types),
            )
            for f in method.fields
        }
        self.required = tuple(p.name for p in self.parameters.values() if p.required)

    def validate(
        self, raw: Mapping[str, object], uploads: Mapping[str, UploadedFile]
    ) -> dict[str, Any]:
        """Convert known parameters; raise ``ApiError`` (400) as Telegram would."""
        ctx = ParseContext(uploads=uploads)
        params: dict[str, Any] = {}
        for name in self.required:
            value = raw.get(name)
            if value is None or value == "":
                raise bad_request(_MISSING_WORDING.get(name, f"{name} is empty"))
        for name, value in raw.items():
            parameter = self.parameters.get(name)
            if parameter is None or value is None:
                continue
            params[name] = self._convert(parameter, value, ctx)
        return params

    @staticmethod
    def _convert(parameter: CompiledParameter, value: object, ctx: ParseContext) -> object:
        value_type = parameter.value_type
        try:
            if isinstance(value, str):
                if value_type.is_structured:
                    try:
                        decoded = json.loads(value)
                    except ValueError as error:
                        raise bad_request(f"can't parse {parameter.name} JSON object") from error
                    return value_type.from_json(decoded, ctx)
                return value_type.from_form(value, ctx)
            return value_type.from_json(value, ctx)
        except TypeMismatch as error:
            raise bad_request(
                f'field "{parameter.name}" must be of type {parameter.label}'
            ) from error
        except NestedError as error:
            raise bad_request(f"can't parse {parameter.name}: {error}") from error


def compile_validators(spec: ApiSpec) -> dict[str, RequestValidator]:
    """One validator per method, keyed by lower-cased name (method names are case-insensitive)."""
    compiler = TypeCompiler(spec)
    return {
        name.lower(): RequestValidator(method, compiler) for name, method in spec.methods.items()
    }

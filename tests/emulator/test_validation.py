"""The compiled validators on a small synthetic spec: every type shape, both spellings."""

from __future__ import annotations

from typing import Any

import pytest

from bot.harness.emulator import ApiSpec
from bot.harness.emulator.errors import ApiError
from bot.harness.emulator.files import UploadedFile
from bot.harness.emulator.validation import FileReference, RequestValidator, compile_validators


def field(name: str, *types: str, required: bool = False, description: str = "") -> dict[str, Any]:
    return {"name": name, "types": list(types), "required": required, "description": description}


SPEC = ApiSpec.from_document(
    {
        "version": "test",
        "release_date": "",
        "methods": {
            "doThing": {
                "fields": [
                    field("count", "Integer", required=True),
                    field("ratio", "Float"),
                    field("flag", "Boolean"),
                    field("target", "Integer", "String"),
                    field("media", "InputFile", "String"),
                    field("tags", "Array of String"),
                    field("grid", "Array of Array of Integer"),
                    field("shape", "Shape"),
                    field("node", "Node"),
                    field("extra", "NotInSubset"),
                ],
                "returns": ["Boolean"],
            }
        },
        "types": {
            "Shape": {"subtypes": ["ShapeCircle", "ShapeSquare"]},
            "ShapeCircle": {
                "fields": [
                    field("type", "String", required=True, description="Type, must be circle"),
                    field("radius", "Float", required=True),
                ]
            },
            "ShapeSquare": {
                "fields": [
                    field("type", "String", required=True, description='Type, always "square"'),
                    field("side", "Integer", required=True),
                ]
            },
            "Node": {"fields": [field("label", "String", required=True), field("child", "Node")]},
        },
    }
)


@pytest.fixture(scope="module")
def validator() -> RequestValidator:
    return compile_validators(SPEC)["dothing"]


def check(validator: RequestValidator, raw: dict[str, object], **uploads: UploadedFile) -> Any:
    return validator.validate({"count": "1", **raw}, uploads)


def refused(validator: RequestValidator, raw: dict[str, object]) -> str:
    with pytest.raises(ApiError) as error:
        check(validator, raw)
    assert error.value.status == 400
    return error.value.description


def test_scalars_from_form_strings(validator: RequestValidator) -> None:
    params = check(validator, {"count": " 42 ", "ratio": "0.5", "flag": "TRUE", "target": "-100"})
    assert params == {"count": 42, "ratio": 0.5, "flag": True, "target": -100}
    assert check(validator, {"flag": "0", "target": "@channel"})["target"] == "@channel"
    assert check(validator, {"flag": "0"})["flag"] is False


def test_scalars_from_json_values(validator: RequestValidator) -> None:
    params = check(validator, {"count": 7, "ratio": 2, "flag": False, "target": 5})
    assert params == {"count": 7, "ratio": 2.0, "flag": False, "target": 5}


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        ({"count": "x"}, 'field "count" must be of type Integer'),
        ({"count": True}, 'field "count" must be of type Integer'),
        ({"ratio": "nan"}, 'field "ratio" must be of type Float'),
        ({"ratio": "fast"}, 'field "ratio" must be of type Float'),
        ({"flag": "yes"}, 'field "flag" must be of type Boolean'),
        ({"flag": 1}, 'field "flag" must be of type Boolean'),
        ({"target": [1]}, 'field "target" must be of type Integer or String'),
        ({"tags": '"one"'}, 'field "tags" must be of type Array of String'),
        ({"grid": '[[1, 2], [3, "x"]]'}, 'field "grid" must be of type Array of Array of Integer'),
        ({"shape": "{"}, "can't parse shape JSON object"),
        ({"shape": '{"radius": 1}'}, "can't parse shape: Can't find field \"type\""),
        ({"shape": '{"type": "hexagon"}'}, 'can\'t parse shape: Unsupported Shape type "hexagon"'),
        ({"shape": '{"type": "square"}'}, "can't parse shape: Can't find field \"side\""),
        (
            {"shape": '{"type": "circle", "radius": "big"}'},
            'can\'t parse shape: Field "radius" must be of type Float',
        ),
        ({"node": '{"label": "a", "child": {"label": 1.5j}}'}, "can't parse node JSON object"),
        (
            {"node": '{"label": "a", "child": {"child": {}}}'},
            "can't parse node: Can't find field \"label\"",
        ),
        ({"extra": "[1]"}, 'field "extra" must be of type NotInSubset'),
    ],
)
def test_mismatches(validator: RequestValidator, raw: dict[str, object], description: str) -> None:
    assert refused(validator, raw) == f"Bad Request: {description}"


def test_missing_required(validator: RequestValidator) -> None:
    with pytest.raises(ApiError) as error:
        validator.validate({"ratio": "1"}, {})
    assert error.value.description == "Bad Request: count is empty"


def test_structures_and_subtypes(validator: RequestValidator) -> None:
    params = check(
        validator,
        {
            "tags": '["a", "b"]',
            "grid": [[1, "2"], []],
            "shape": {"type": "circle", "radius": 3, "colour": "red"},
            "node": '{"label": "root", "child": {"label": "leaf"}}',
            "extra": '{"anything": [1, 2]}',
        },
    )
    assert params["tags"] == ["a", "b"]
    assert params["grid"] == [[1, 2], []]
    assert params["shape"] == {"type": "circle", "radius": 3.0}  # unknown "colour" dropped
    assert params["node"] == {"label": "root", "child": {"label": "leaf"}}
    assert params["extra"] == {"anything": [1, 2]}


def test_unknown_parameters_are_dropped(validator: RequestValidator) -> None:
    assert check(validator, {"mystery": "1"}) == {"count": 1}


def test_input_file_or_string(validator: RequestValidator) -> None:
    upload = UploadedFile("part1", "a.png", "image/png", b"png")
    assert check(validator, {"media": "attach://part1"}, part1=upload)["media"] is upload
    assert check(validator, {"media": upload})["media"] is upload
    reference = check(validator, {"media": "AgACfileid"})["media"]
    assert reference == FileReference("AgACfileid") and not reference.is_url
    assert check(validator, {"media": "https://x.org/a.png"})["media"].is_url
    assert refused(validator, {"media": "attach://missing"}) == (
        "Bad Request: can't parse media: can't find attached file \"missing\""
    )

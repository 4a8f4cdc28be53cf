"""Each Lua script's header (BullMQ's `Input: KEYS[1] name …  ARGV[1] name …  Output:`) says
what its typed call in `proctoring.store.scripts` passes, in the same order; every KEYS[n] and
ARGV[n] the script reads is declared, and every one declared is read; includes resolve; and no
script builds a key from a literal fragment (keys come from proctoring/store/keys.py, and keys
found at run time through the one helper in includes/key_for.lua)."""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from proctoring.store import lua, scripts

SCRIPTS = sorted(path.name for path in lua.SCRIPTS_DIR.glob("*.lua"))
ALL_LUA = sorted(lua.SCRIPTS_DIR.rglob("*.lua"))
KEY_HELPER = lua.SCRIPTS_DIR / "includes" / "key_for.lua"

HEADER = re.compile(r"\A--\[\[\n(.*?)\n\]\]\n", re.DOTALL)
ENTRY = re.compile(r"^\s+(KEYS|ARGV)\[(\d+)(\.\.)?\]\s+(\w+)\s", re.MULTILINE)
USE = re.compile(r"\b(KEYS|ARGV)\[(\d+)\]")
STRING = re.compile(r"'[^']*'|\"[^\"]*\"")


@dataclass
class Header:
    keys: list[str]
    argv: list[str]
    variadic: bool  # the last ARGV entry is "ARGV[n..] name": any number from n on


def header_of(text: str, name: str) -> Header:
    match = HEADER.match(text)
    assert match, f"{name} does not open with a --[[ ... ]] header"
    block = match.group(1)
    assert "Input:" in block and "Output:" in block, f"{name}'s header lacks Input: or Output:"
    found: dict[str, list[str]] = {"KEYS": [], "ARGV": []}
    variadic = False
    for kind, number, dots, entry in ENTRY.findall(block):
        assert not variadic, f"{name}: ARGV[{number}] after the variadic entry"
        assert int(number) == len(found[kind]) + 1, f"{name}: {kind}[{number}] out of order"
        assert not dots or kind == "ARGV", f"{name}: only ARGV may take any number"
        found[kind].append(entry)
        variadic = bool(dots)
    return Header(found["KEYS"], found["ARGV"], variadic)


@dataclass
class Call:
    function: str
    params: list[str]  # keyword-only, in order
    generated: list[str]  # the `--- @generated` parts given to lua.script
    keys: list[str]  # the parameter behind each KEYS entry, in order
    argv: list[str]
    variadic: bool  # the last ARGV entry is *param


def calls() -> dict[str, Call]:
    """Per script file, the typed call in proctoring/store/scripts/__init__.py that runs it: the
    parameter behind each key and argument of `lua.script("<file>")(client, [keys], [argv])`."""
    tree = ast.parse(Path(inspect.getfile(scripts)).read_text())
    found: dict[str, Call] = {}
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = [arg.arg for arg in function.args.kwonlyargs]
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Call)):
                continue
            loader = node.func
            if not (isinstance(loader.func, ast.Attribute) and loader.func.attr == "script"):
                continue
            file = loader.args[0]
            assert isinstance(file, ast.Constant) and isinstance(file.value, str)
            _, keys_list, argv_list = node.args
            assert isinstance(keys_list, ast.List) and isinstance(argv_list, ast.List)
            argv = [parameter_of(item, params, function.name) for item in argv_list.elts]
            assert file.value not in found, f"{file.value} is run from two functions"
            found[file.value] = Call(
                function=function.name,
                params=params,
                generated=[keyword.arg or "" for keyword in loader.keywords],
                keys=[parameter_of(item, params, function.name) for item in keys_list.elts],
                argv=argv,
                variadic=bool(argv_list.elts) and isinstance(argv_list.elts[-1], ast.Starred),
            )
    return found


def parameter_of(item: ast.expr, params: list[str], function: str) -> str:
    """The one parameter an entry of the keys or argv list is made from."""
    names = {node.id for node in ast.walk(item) if isinstance(node, ast.Name)} & set(params)
    assert len(names) == 1, f"{function}: {ast.unparse(item)} is not made from one parameter"
    return names.pop()


def body_of(name: str) -> str:
    """The script as Redis runs it (includes resolved), without its own header."""
    return HEADER.sub("", lua.source(name), count=1)


def key_fragments(line: str) -> list[str]:
    """String literals that look like a piece of a key name, on a line of code that concatenates."""
    literals: list[str] = []

    def mask(match: re.Match[str]) -> str:
        literals.append(match.group(0)[1:-1])
        return f"\0{len(literals) - 1}\0"

    code = STRING.sub(mask, line).split("--", 1)[0]
    if ".." not in code:
        return []
    kept = [literals[int(index)] for index in re.findall(r"\0(\d+)\0", code)]
    return [text for text in kept if (":" in text and text != ":") or text in {"proctoring", "rq"}]


def code_lines(path: Path) -> list[str]:
    """The file's lines, its --[[ ]] comment blocks blanked (line numbers kept)."""
    text = re.sub(r"--\[\[.*?\]\]", lambda m: "\n" * m.group(0).count("\n"), path.read_text(), flags=re.S)
    return text.splitlines()


def test_every_script_has_exactly_one_typed_call() -> None:
    assert SCRIPTS, f"no scripts found in {lua.SCRIPTS_DIR}"
    assert sorted(calls()) == SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_header_names_the_keys_and_arguments_its_typed_call_passes_in_order(name: str) -> None:
    header = header_of((lua.SCRIPTS_DIR / name).read_text(), name)
    call = calls()[name]
    assert call.keys == header.keys, f"KEYS of {name} against {call.function}()"
    assert call.argv == header.argv, f"ARGV of {name} against {call.function}()"
    assert call.variadic == header.variadic, f"{name}: the last ARGV is variadic in one side only"
    assert call.params == [*call.generated, *header.keys, *header.argv], (
        f"{call.function}()'s keyword parameters are not the header's entries, in order"
    )
    assert call.generated == lua.GENERATED.findall(lua.source(name))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_key_and_argument_the_script_reads_is_declared_and_every_declared_one_read(name: str) -> None:
    header = header_of((lua.SCRIPTS_DIR / name).read_text(), name)
    used: dict[str, set[int]] = {"KEYS": set(), "ARGV": set()}
    for kind, number in USE.findall(body_of(name)):
        used[kind].add(int(number))
    fixed_argv = len(header.argv) - (1 if header.variadic else 0)
    assert used["KEYS"] == set(range(1, len(header.keys) + 1)), f"{name}: KEYS read vs declared"
    assert used["ARGV"] == set(range(1, fixed_argv + 1)), f"{name}: ARGV read vs declared"


@pytest.mark.parametrize("path", ALL_LUA, ids=lambda path: path.name)
def test_every_include_resolves(path: Path) -> None:
    for include in lua.INCLUDE.findall(path.read_text()):
        assert (path.parent / include).is_file(), f"{path.name} includes {include}, which is not there"


@pytest.mark.parametrize("path", sorted((lua.SCRIPTS_DIR / "includes").glob("*.lua")), ids=lambda p: p.name)
def test_includes_take_what_they_need_as_parameters(path: Path) -> None:
    assert not USE.findall(path.read_text()), f"{path.name} reads the including script's KEYS or ARGV"


@pytest.mark.parametrize("path", ALL_LUA, ids=lambda path: path.name)
def test_no_script_builds_a_key_from_a_literal_fragment(path: Path) -> None:
    if path == KEY_HELPER:
        return
    for number, line in enumerate(code_lines(path), 1):
        assert not key_fragments(line), f"{path.name}:{number} builds a key by hand: {line.strip()}"


def test_the_key_fragment_check_sees_keys_built_by_hand() -> None:
    assert key_fragments("local waiting = CP .. client .. ':waiting'")
    assert key_fragments('redis.call("GET", "proctoring:frame:" .. id)')
    assert key_fragments("local key = 'rq' .. ':job:' .. id")
    assert not key_fragments("local composite = id .. ':' .. eid")
    assert not key_fragments("redis.call('HSET', key, 'status', 'started')")
    assert not key_fragments("local w = key_for(waiting_template, client)  -- not 'a:b' .. c")


def test_generated_parts_must_all_be_given() -> None:
    with pytest.raises(ValueError, match="job_writes"):
        lua.render("enqueue.lua", {})
    assert "--- @generated" not in lua.render("enqueue.lua", {"job_writes": "push()"})

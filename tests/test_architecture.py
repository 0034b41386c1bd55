"""The house rules, checked: the library imports no face, one module per vendor, no subject words in the engine."""

from __future__ import annotations

import ast
import re

import pytest

from assistant.config import PROJECT_ROOT
from assistant.domain import DomainProfile, load_profile
from assistant.errors import UserError

# The library's modules, those of its packages too (assistant/store/), named by their path in it.
LIBRARY = sorted((PROJECT_ROOT / "assistant").rglob("*.py"))


def named(path) -> str:
    return path.relative_to(PROJECT_ROOT / "assistant").as_posix()


def imported_modules(path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
    return found


def test_the_walker_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ui.web import serve\n    import eval.cli\n")
    assert {"ui.web", "eval.cli"} <= imported_modules(probe)


@pytest.mark.parametrize("path", LIBRARY, ids=named)
def test_library_imports_no_face(path):
    faces = {m for m in imported_modules(path) if m.split(".")[0] in ("ui", "eval", "bench", "tests")}
    assert not faces, f"{named(path)} imports {sorted(faces)}: the library must not depend on its front ends"


def test_only_the_store_speaks_chroma():
    speakers = [named(p) for p in LIBRARY if any(m.split(".")[0] in ("chromadb", "langchain_chroma")
                                                 for m in imported_modules(p))]
    assert "store/chroma.py" in speakers  # the clients: the walker sees the store's imports
    assert all(s.startswith("store/") for s in speakers), speakers


def test_only_the_storage_modules_speak_the_database():
    speakers = sorted(named(p) for p in LIBRARY if any(m.split(".")[0] in ("sqlalchemy", "psycopg")
                                                       for m in imported_modules(p)))
    # The schema, the operations on it, and the deletes that retention and purges make.
    assert speakers == ["database.py", "retention.py", "storage.py"]
    faces = [p.name for p in (PROJECT_ROOT / "ui").glob("*.py")
             if any(m.split(".")[0] in ("sqlalchemy", "psycopg") for m in imported_modules(p))]
    assert faces == []


def test_only_the_llm_module_builds_chat_models():
    builders = [named(p) for p in LIBRARY if any(m.startswith(("langchain.chat_models", "langchain_community"))
                                                 for m in imported_modules(p))]
    assert builders == ["llm.py"]


def test_no_subject_words_outside_the_domain_profile():
    subject = re.compile(r"devops|mlops|modelops|dataops", re.I)
    offenders = [named(p) for p in LIBRARY if named(p) != "domain.py" and subject.search(p.read_text())]
    assert offenders == []


def test_domain_profile_from_toml_replaces_the_subject(tmp_path):
    path = tmp_path / "runbooks.toml"
    path.write_text('subject = "our payment runbooks"\nsubject_terms = ["Payments", "Ledger"]\n'
                    'example_questions = ["How do we rotate keys?"]\n')
    profile = load_profile(path)
    assert profile.subject == "our payment runbooks" and profile.subject_terms == ("payments", "ledger")
    assert profile.subjects_in("The Ledger service and payments") == {"payments", "ledger"}
    assert profile.subjects_in("DevOps") == set()
    assert profile.signpost.search("The table below lists them")  # defaults kept for keys not given
    assert load_profile(None) == DomainProfile()


@pytest.mark.parametrize("text, message", [
    ("subjects = ['x']", "unknown domain profile keys"),
    ("subject = ", "cannot read the domain profile"),
    ("signpost_patterns = ['(unclosed']", "bad pattern"),
])
def test_bad_domain_profile_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_profile(path)

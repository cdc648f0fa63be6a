"""One new grammar compiles per step; known ones join at once; a failed compile takes its twins along."""

from ovserve.nodes.llm.grammar_admission import GrammarAdmission

A, B, C = '{"a": 1}', '{"b": 2}', '{"c": 3}'


def test_new_schemas_join_one_at_a_time_with_their_twins():
    admission = GrammarAdmission()
    for key, schema in [(1, A), (2, B), (3, A), (4, C)]:
        admission.add(key, schema)
    assert admission.admit() == [1, 3]  # A compiles; B and C wait for it
    assert admission.admit() == []
    admission.compiled(A)
    assert admission.admit() == [2]
    admission.compiled(B)
    assert admission.admit() == [4] and len(admission) == 0


def test_a_compiled_schema_joins_even_while_another_compiles():
    admission = GrammarAdmission()
    admission.add(1, A)
    admission.admit()
    admission.compiled(A)
    admission.add(2, B)
    admission.add(3, A)
    assert admission.admit() == [2, 3]
    assert admission.compiling == B


def test_a_failed_compile_returns_the_waiting_twins_and_frees_the_slot():
    admission = GrammarAdmission()
    admission.add(1, A)
    admission.admit()
    admission.add(2, A)  # arrived after the compile began
    admission.add(3, B)
    assert admission.failed(A) == [2]
    assert admission.admit() == [3]
    assert not admission.is_compiled(A)


def test_cancelled_and_abandoned_requests_free_the_slot():
    admission = GrammarAdmission()
    admission.add(1, A)
    admission.add(2, B)
    assert admission.cancel(2) and not admission.cancel(2)
    admission.admit()
    admission.left(A)  # its only request left before any output
    admission.add(3, C)
    assert admission.admit() == [3]


def test_the_known_schemas_are_bounded():
    admission = GrammarAdmission(kept=2)
    for schema in (A, B, C):
        admission.compiled(schema)
    assert not admission.is_compiled(A) and admission.is_compiled(B) and admission.is_compiled(C)

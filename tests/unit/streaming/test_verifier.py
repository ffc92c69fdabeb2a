"""The fault tests' verifier must be able to fail."""

from tests.support.verify import Expected, compare

EXPECTED = Expected({("opportunities", "o1:0"): b"a", ("impulses", "i1"): b"b"}, {}, 2)


def test_identical_output_passes_even_with_byte_identical_duplicates():
    report = compare(
        EXPECTED, {("opportunities", "o1:0"): [b"a", b"a"], ("impulses", "i1"): [b"b"]}
    )
    assert report.ok and report.duplicates == 1


def test_a_missing_id_fails():
    assert compare(EXPECTED, {("opportunities", "o1:0"): [b"a"]}).missing == [("impulses", "i1")]


def test_an_id_with_two_contents_fails():
    report = compare(
        EXPECTED, {("opportunities", "o1:0"): [b"a", b"x"], ("impulses", "i1"): [b"b"]}
    )
    assert report.conflicting == [("opportunities", "o1:0")] and not report.ok


def test_other_content_or_an_extra_id_fails():
    got = {
        ("opportunities", "o1:0"): [b"z"],
        ("impulses", "i1"): [b"b"],
        ("impulses", "i2"): [b"c"],
    }
    report = compare(EXPECTED, got)
    assert report.different == [("opportunities", "o1:0")]
    assert report.extra == [("impulses", "i2")]

"""A refused SPIFFE ID is told in sentences: each problem reads 'A SPIFFE ID must ...'."""

import pytest
from django.core.exceptions import ValidationError

from agents.identity import validate_spiffe_id


@pytest.mark.parametrize(
    "workload_id",
    [
        "https://prod.example.com/ns/x",
        "spiffe://Prod.Example.com/ns/x",
        "spiffe://prod.example.com",
        "spiffe://prod.example.com/ns//x/",
        "spiffe://prod.example.com/ns/../x?debug=1",
        "spiffe://corp.example.com/ns/people sa/benefits",
    ],
)
def test_every_problem_reads_as_a_sentence_about_the_id(workload_id):
    with pytest.raises(ValidationError) as refused:
        validate_spiffe_id(workload_id)
    for message in refused.value.messages:
        assert message.startswith("A SPIFFE ID must "), message


def test_a_path_segment_with_a_space_says_what_segments_may_hold():
    with pytest.raises(ValidationError) as refused:
        validate_spiffe_id("spiffe://corp.example.com/ns/people sa/benefits")
    assert refused.value.messages == [
        "A SPIFFE ID must have path segments of only letters, digits, '.', '-' and '_'."
    ]

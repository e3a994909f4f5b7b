"""Sizes that cannot fit are one line; allocation failures are recognised and described."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.memory import available_bytes, describe_error, is_out_of_memory, require_bytes


def test_require_bytes_refuses_more_than_is_available():
    require_bytes(1, "one byte")
    with pytest.raises(GankitError, match=r"^huge needs about .* of memory, more than the .* available"):
        require_bytes(available_bytes() * 2, "huge")


def test_a_failed_allocation_is_recognised_and_named():
    with pytest.raises(RuntimeError) as e:
        torch.empty(2**62, dtype=torch.uint8)  # 4 EiB: refused by the allocator at once
    assert is_out_of_memory(e.value)
    line = describe_error(e.value)
    assert line.startswith("out of memory") and "\n" not in line
    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(RuntimeError("shape mismatch"))

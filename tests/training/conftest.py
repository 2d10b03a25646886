import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny nets here train faster on one thread than on two spinning on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

# Copyright (c) mmacs contributors. All rights reserved.
"""The deploy tests compare PyTorch's fake quantization with onnxruntime's
integer kernels. PyTorch's float convolutions sum in an order that depends
on its thread count, and at 8 bits a sum that lands on a rounding boundary
moves one step: with two threads a few of 100 detections differ by a step
while with one they match exactly. The comparisons run on one thread, so
they check the export, not the summation order."""
import pytest
import torch


@pytest.fixture(autouse=True, scope='module')
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

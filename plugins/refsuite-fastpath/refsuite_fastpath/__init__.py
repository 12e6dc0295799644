"""refsuite-fastpath: refsuite's own fused conv→max-pool→ReLU kernels for the tutorial Net's hot path.

``c_kernels`` (C, built with the system compiler on first use) for the CPU and ``triton_kernels``
for CUDA, behind one autograd wrapper (``autograd``). They register two units (``fastpath.*``)
and two benchmark variants (``fused``, ``fused_cuda_graph``) through refsuite's entry points.
Importing this package imports neither torch's compiler path nor Triton nor a C compiler: the
kernels load when a unit or a benchmark first asks for them.
"""

"""GPU diagnosis: (A) which layout's conv gradients are accurate in float32, against float64 on the CPU;
(B) where eager NCHW's time goes at batch 8192, and what precision/layout changes are worth;
(C) the fused Triton kernels' own times at batch 8192.

    python benchmarks/gpu_diagnose.py [A] [B] [C]      (default: all)
"""
import sys

import torch
import torch.nn.functional as F
from refsuite.tutorial.hotpath import stage_fn
from refsuite.tutorial.training import new_net

cudnn = torch.backends.cudnn
print("flags: cudnn.allow_tf32", cudnn.allow_tf32, "conv.fp32_precision", getattr(getattr(cudnn, "conv", None), "fp32_precision", None),
      "backends.fp32_precision", getattr(torch.backends, "fp32_precision", None), "cudnn", cudnn.version())


def grads(stage, batch, dev, dtype, fmt, input_grad):
    net = new_net(0).to(dev, dtype).to(memory_format=fmt)
    gen = torch.Generator().manual_seed(0)
    shape = (batch, 6, 14, 14) if stage == "conv2" else (batch, 3, 32, 32)
    x = torch.randn(shape, generator=gen).to(dev, dtype).contiguous(memory_format=fmt).requires_grad_(input_grad)
    stage_fn(net, stage)(x).sum().backward()
    return {n: p.grad.double().cpu() for n, p in net.named_parameters() if p.grad is not None}


def report(stage, batch, input_grad):
    truth = grads(stage, batch, "cpu", torch.float64, torch.contiguous_format, input_grad)
    for tf32 in (False, True):
        cudnn.allow_tf32 = tf32
        for fmt_name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
            for enabled in (True, False):
                cudnn.enabled = enabled
                got = grads(stage, batch, "cuda", torch.float32, fmt, input_grad)
                errs = ", ".join(f"{n} {float((got[n] - truth[n]).abs().max() / truth[n].abs().max()):.1e}" for n in truth if "weight" in n)
                print(f"  {stage} b{batch} tf32={tf32!s:5} cudnn={enabled!s:5} {fmt_name:13} scale-relative error vs float64: {errs}")
            cudnn.enabled = True
    cudnn.allow_tf32 = False


SECTIONS = set(sys.argv[1:]) or {"A", "B", "C"}
if "A" in SECTIONS:
    print("(A) float32 weight gradients against float64 (CPU)")
    report("conv2", 256, True)
    report("both", 8192, False)


def timed(fn, n=20):
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(n):
        start.record(); fn(); end.record(); torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[n // 2]


if "B" in SECTIONS:
    print("(B) both stages fwd+bwd, batch 8192: median ms")
    B = 8192
    x0 = torch.randn(B, 3, 32, 32, device="cuda")
    for name, fmt, tf32, amp, pf in (
            ("fp32 nchw", torch.contiguous_format, False, None, False),
            ("fp32 cl pool-first", torch.channels_last, False, None, True),
            ("tf32 nchw", torch.contiguous_format, True, None, False),
            ("tf32 cl pool-first", torch.channels_last, True, None, True),
            ("bf16-autocast nchw", torch.contiguous_format, False, torch.bfloat16, False),
            ("bf16-autocast cl pool-first", torch.channels_last, False, torch.bfloat16, True),
            ("fp16-autocast cl pool-first", torch.channels_last, False, torch.float16, True)):
        cudnn.allow_tf32 = tf32
        for bench_flag in (False, True):
            cudnn.benchmark = bench_flag
            net = new_net(0).cuda().to(memory_format=fmt)
            fn = stage_fn(net, "both", pool_first=pf)
            x = x0.contiguous(memory_format=fmt)

            def step():
                for p in net.parameters():
                    p.grad = None
                with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
                    out = fn(x)
                out.float().sum().backward()
            print(f"  {name:30} cudnn.benchmark={bench_flag!s:5} {timed(step):7.3f} ms")
        cudnn.benchmark = False
    cudnn.allow_tf32 = False

    from torch.profiler import ProfilerActivity, profile
    net = new_net(0).cuda()
    fn = stage_fn(net, "both")
    def step():
        for p in net.parameters():
            p.grad = None
        fn(x0).sum().backward()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step()
        torch.cuda.synchronize()
    print("(B) eager NCHW fp32, 5 steps, kernels by CUDA time")
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=90))

if "C" in SECTIONS:
    from refsuite_fastpath import triton_kernels as fh
    from refsuite_fastpath.autograd import stage_fn as fused_stage_fn

    print("(C) fused kernels at batch 8192, float32 (TF32 off): median ms")
    cudnn.allow_tf32 = False
    B = 8192
    net = new_net(0).cuda()
    x1 = torch.randn(B, 3, 32, 32, device="cuda")
    w1, b1, w2, b2 = (t.detach() for t in (net.conv1.weight, net.conv1.bias, net.conv2.weight, net.conv2.bias))
    y1, which1 = fh.forward(x1, w1, b1)
    y2, which2 = fh.forward(y1, w2, b2)
    g1, g2 = torch.randn_like(y1), torch.randn_like(y2)
    print(f"  conv1 forward (fused pool, relu)  {timed(lambda: fh.forward(x1, w1, b1)):7.3f}")
    print(f"  conv2 forward (fused pool, relu)  {timed(lambda: fh.forward(y1, w2, b2)):7.3f}")
    print(f"  conv1 weight grad (winners only)  {timed(lambda: fh.weight_grad(x1, g1, y1, which1)):7.3f}")
    print(f"  conv2 weight grad (winners only)  {timed(lambda: fh.weight_grad(y1, g2, y2, which2)):7.3f}")
    print(f"  cuDNN conv1 forward alone         {timed(lambda: torch.nn.functional.conv2d(x1, w1, b1)):7.3f}")
    xr = y1.clone().requires_grad_()
    for stage, inp in (("both", x1), ("conv2", xr)):
        for name, fn in (("fused", fused_stage_fn(net, stage, fh)), ("eager", stage_fn(net, stage))):
            def step():
                net.zero_grad(set_to_none=True)
                fn(inp).sum().backward()
            print(f"  {stage} fwd+bwd {name:6}             {timed(step):7.3f}")

"""GPU diagnosis: (A) which layout's conv gradients are accurate in float32, against float64 on the CPU;
(B) where eager NCHW's time goes at batch 8192, and what precision/layout changes are worth."""
import torch
import torch.nn.functional as F
from refsuite.hotpath import stage_fn
from refsuite.training import new_net

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

from torch.profiler import profile, ProfilerActivity
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

"""The worker's compatibility layer (edgebench_worker/compat.py) on whatever torch runs it: the
fallbacks torch 1.8 takes give what the newer APIs give (run by crates/torch/tests/
python_compat.rs with a Python that has torch, or `python3 -m unittest discover python/tests`)."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

try:
    import torch
except Exception:  # the timing tests run without torch; these need it
    torch = None


@unittest.skipIf(torch is None, "needs torch")
class Compat(unittest.TestCase):
    def setUp(self):
        from edgebench_worker import compat

        self.compat = compat

    def test_numpy_frombuffer_reads_what_torch_frombuffer_reads(self):
        blob = bytearray(struct.pack("<8f", *[0.5 * i - 1.0 for i in range(8)]))
        t = self.compat.frombuffer_numpy(blob, torch.float32, count=5, offset=8)
        self.assertEqual(t.dtype, torch.float32)
        self.assertEqual(t.tolist(), [0.0, 0.5, 1.0, 1.5, 2.0])
        # The same memory, as torch.frombuffer shares it.
        blob[8:12] = struct.pack("<f", 7.0)
        self.assertEqual(float(t[0]), 7.0)
        self.assertEqual(self.compat.frombuffer(blob, torch.float32, count=2, offset=8).tolist(), [7.0, 0.5])
        ints = bytearray(struct.pack("<3q", -2, 0, 2 ** 40))
        self.assertEqual(self.compat.frombuffer_numpy(ints, torch.int64).tolist(), [-2, 0, 2 ** 40])

    def test_grad_mode_is_what_its_name_says(self):
        x = torch.ones(2, requires_grad=True)
        with self.compat.grad_mode(True):
            y = x * 2
        self.assertFalse(y.requires_grad)
        name = self.compat.grad_mode_name(True)
        if self.compat.HAS_INFERENCE_MODE:
            self.assertEqual(name, "torch.inference_mode()")
            self.assertTrue(y.is_inference())
        else:
            self.assertTrue(name.startswith("torch.no_grad() (torch "), name)
        self.assertEqual(self.compat.grad_mode_name(False), "torch.no_grad()")

    def test_channels_last_by_rank(self):
        self.assertIs(self.compat.memory_format(4), torch.channels_last)
        if self.compat.CHANNELS_LAST_3D is not None:
            self.assertIs(self.compat.memory_format(5), torch.channels_last_3d)
        else:
            with self.assertRaises(self.compat.CompatError):
                self.compat.memory_format(5)

    def test_the_exporter_names_its_newest_opset(self):
        top = self.compat.max_onnx_opset()
        self.assertIsInstance(top, int)
        self.assertGreaterEqual(top, 13)  # torch 1.8 writes up to 13

    def test_features_match_the_torch(self):
        self.assertEqual(self.compat.HAS_INFERENCE_MODE, hasattr(torch, "inference_mode"))
        self.assertEqual(self.compat.HAS_CUDA_GRAPHS, hasattr(torch.cuda, "CUDAGraph"))


@unittest.skipIf(torch is None, "needs torch")
class CompileReport(unittest.TestCase):
    """What the worker records about torch.compile comes from torch's own counters and CUDA
    graph trees: the reading of them, on stand-ins shaped like torch 2.x's objects."""

    def setUp(self):
        from edgebench_worker import compat

        self.compat = compat

    def test_the_mode_is_one_of_torch_s_and_plain_compile_is_default(self):
        c = self.compat
        self.assertIsNone(c.compile_mode(None))
        self.assertIsNone(c.compile_mode(False))
        with self.assertRaises(c.CompatError) as e:
            c.compile_mode("turbo")
        self.assertIn("compile=turbo is not one of default, reduce-overhead", str(e.exception))
        for value, mode in ((True, "default"), ("max-autotune", "max-autotune")):
            if c.HAS_COMPILE:
                self.assertEqual(c.compile_mode(value), mode)
            else:  # torch 1.x: refused in one line naming the fix
                with self.assertRaises(c.CompatError) as e:
                    c.compile_mode(value)
                self.assertIn("torch.compile needs torch 2.0 or newer and this is torch %s" % torch.__version__, str(e.exception))
                self.assertIn("pip install 'torch>=2'", str(e.exception))

    def test_counters_are_read_as_differences(self):
        from collections import Counter, defaultdict

        counters = defaultdict(Counter)
        counters["stats"]["unique_graphs"] = 2
        counters["graph_break"]["an earlier model's break"] = 1
        before = self.compat.counter_snapshot(counters)
        counters["stats"]["unique_graphs"] += 3
        counters["graph_break"]["call_function print"] += 2
        counters["graph_break"]["data-dependent branch"] += 1
        counters["inductor"]["cudagraph_skips"] += 1
        delta = self.compat.counter_delta(before, self.compat.counter_snapshot(counters))
        self.assertEqual(
            delta,
            {
                "graphs": 3,
                "graph_breaks": 3,
                "graph_break_reasons": ["call_function print", "data-dependent branch"],
                "cudagraph_skips": 1,
            },
        )
        self.assertIsNone(self.compat.counter_delta(None, before))
        self.assertIsNone(self.compat.counter_snapshot(None))

    def test_recorded_graphs_are_the_tree_nodes_that_hold_a_graph(self):
        from types import SimpleNamespace as Node

        leaf = Node(graph=object(), children={})
        root = Node(graph=object(), children={"f1": [leaf, Node(graph=None, children={})]})
        manager = Node(roots={"f0": [root], "f2": [Node(graph=object(), children={})]})
        self.assertEqual(self.compat.recorded_cuda_graphs(manager), 3)
        self.assertEqual(self.compat.recorded_cuda_graphs(None), 0)
        self.assertEqual(self.compat.recorded_cuda_graphs(Node(roots={})), 0)

    def test_the_verdict_follows_what_torch_recorded(self):
        v = self.compat.cuda_graph_verdict
        quiet = {"graphs": 1, "graph_breaks": 0, "graph_break_reasons": [], "cudagraph_skips": 0}
        skipped = dict(quiet, cudagraph_skips=2)
        cg = "triton.cudagraphs=True"
        self.assertTrue(v("cuda", "reduce-overhead", cg, 1, quiet).startswith("yes: 1 CUDA graph(s) recorded"))
        self.assertIn("skipped CUDA graphs for 2 other", v("cuda", "max-autotune", cg, 3, skipped))
        # Asked for, not done: the request does not decide.
        self.assertTrue(v("cuda", "reduce-overhead", cg, 0, skipped).startswith("no: inductor skipped CUDA graphs 2 time(s)"))
        self.assertEqual(v("cuda", "reduce-overhead", cg, 0, quiet), "no: no CUDA graph was recorded")
        self.assertEqual(
            v("cuda", "default", "(none)", 0, quiet),
            "no: mode default does not ask for CUDA graphs (its inductor options: (none))",
        )
        self.assertEqual(v("cpu", "max-autotune", cg, None, quiet), "no: CUDA graphs need device=cuda")
        self.assertTrue(v("cuda", "reduce-overhead", cg, None, None).startswith("unknown: "))

    def test_torch_s_own_mode_options_where_it_has_them(self):
        options = self.compat.compile_mode_options("reduce-overhead")
        if self.compat.HAS_COMPILE:
            self.assertIn("triton.cudagraphs=True", options)
            self.assertEqual(self.compat.compile_mode_options("default"), "(none)")
        else:
            self.assertIsNone(options)


@unittest.skipIf(torch is None, "needs torch")
class OwnModels(unittest.TestCase):
    def test_build_takes_num_classes_and_refuses_unknown_names(self):
        from edgebench_worker import models

        self.assertEqual(sorted(models.BUILDERS), ["ae3d", "c3d_small", "densenet3d_121", "resnet50v2"])
        m = models.build("ae3d", {"num_classes": 3}).eval()  # the small one: the Rust tests run all four
        with torch.no_grad():
            y = m(torch.zeros(1, 3, 16, 112, 112))
        self.assertEqual(list(y.shape), [1, 3])
        with self.assertRaises(KeyError):
            models.build("resnet9000", {})

if __name__ == "__main__":
    unittest.main()

"""edgebench's PyTorch worker.

edgebench (a Rust binary) starts this package as a child process and speaks to it over a
line-based JSON protocol on stdin/stdout; see docs/torch.md. The package ships inside the
edgebench binary and is written to a cache folder at run time: edit it here, in the
repository, and rebuild.
"""

PROTOCOL = 1

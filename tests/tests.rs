//! Integration tests of the `storeserv-sim` package: one binary, one module per concern.

mod harness;

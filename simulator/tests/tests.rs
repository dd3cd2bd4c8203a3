//! Integration tests of the simulator crate (one test binary; modules by feature).

mod remote_copy;

//! WSAPI server tests: servers start in-process on port 0 and stop at the end of each test.

mod support;

mod control;
mod cpgs;
mod hosts;
mod load;
mod misc;
mod python_client;
mod remote_copy;
mod remote_copy_dr;
mod remote_copy_links;
mod robustness;
mod scenario;
mod sessions;
mod sets;
mod vluns;
mod volumes;

//! WSAPI server tests: servers start in-process on port 0 and stop at the end of each test.

mod support;

mod control;
mod cpgs;
mod hosts;
mod load;
mod misc;
mod python_client;
mod robustness;
mod sessions;
mod sets;
mod vluns;
mod volumes;

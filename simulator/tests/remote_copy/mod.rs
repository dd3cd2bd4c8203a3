//! Remote Copy tests: scenario tests of each mode, faults and disaster recovery, and the
//! property-based state machine (`model`).

mod dr;
mod faults;
mod model;
mod periodic;
mod refusals;
mod support;
mod synchronous;

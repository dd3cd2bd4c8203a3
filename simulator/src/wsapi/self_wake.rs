//! Absorbing the wake-ups a connection task gives itself while it is being polled.
//!
//! What it holds: [`AbsorbSelfWakes`], a future adapter the listener wraps around each hyper
//! connection (public so that `benches/wsapi.rs` gives its bare hyper baseline the same fix). What it deliberately does not do: change what the connection does or when it is
//! polled for any wake-up that comes from outside its own poll.
//!
//! Why: hyper's HTTP/1 server hands a request body to the service through a channel whose sender
//! registers the connection task's waker; when the service (polled inside the same task) takes a
//! chunk, the channel wakes that waker, even after the whole body is in and the sender is gone.
//! So every request with a body wakes its own connection task while that task runs. Tokio treats
//! such a wake-up as a yield: it queues the task behind the others and wakes an idle worker to
//! help. On a loopback connection the idle worker often takes over the I/O driver, and the
//! connection (and whatever else the first worker ran) moves to another CPU on each POST; the
//! benchmark saw ~20 µs more per POST in about half of the processes (see `benches/wsapi.rs`).
//! The adapter records a wake-up that arrives while the inner future is being polled and polls
//! it again at once, a bounded number of times, instead of returning to tokio; wake-ups from
//! outside the poll (socket readiness, timers, the engine lock) go to tokio's waker unchanged.
//! The cost: one waker indirection per connection wake-up, and a `std::sync::Mutex` per poll to
//! keep tokio's waker current.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Most polls in a row within one call to `poll`; past it the adapter yields to tokio, so a
/// future that keeps waking itself cannot starve the worker's other tasks.
const POLLS_PER_CALL_MAX: usize = 8;

/// The inner future is not being polled: a wake-up goes to tokio.
const IDLE: u8 = 0;
/// The inner future is being polled and has not been woken since the poll started.
const POLLING: u8 = 1;
/// The inner future was woken while being polled: poll it again.
const POLLING_WOKEN: u8 = 2;

/// Polls `inner`, polling it again at once (instead of yielding to the runtime) when it woke
/// itself during the poll. See the module doc.
pub struct AbsorbSelfWakes<F> {
    inner: Pin<Box<F>>,
    state: Arc<WakeState>,
    /// The waker handed to `inner`: built once, it reads `state`.
    waker: Waker,
}

impl<F: Future> AbsorbSelfWakes<F> {
    /// Wraps `inner` (typically a hyper connection future).
    pub fn new(inner: F) -> AbsorbSelfWakes<F> {
        let state = Arc::new(WakeState { phase: AtomicU8::new(IDLE), outer: Mutex::new(None) });
        let waker = Waker::from(state.clone());
        AbsorbSelfWakes { inner: Box::pin(inner), state, waker }
    }
}

impl<F: Future> Future for AbsorbSelfWakes<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.state.remember(cx.waker());
        let mut inner_cx = Context::from_waker(&this.waker);
        for _ in 0..POLLS_PER_CALL_MAX {
            this.state.phase.store(POLLING, Ordering::SeqCst);
            if let Poll::Ready(output) = this.inner.as_mut().poll(&mut inner_cx) {
                this.state.phase.store(IDLE, Ordering::SeqCst);
                return Poll::Ready(output);
            }
            // A wake-up either saw POLLING (and is recorded here) or sees IDLE (and wakes tokio).
            if this.state.phase.swap(IDLE, Ordering::SeqCst) != POLLING_WOKEN {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// What the inner future's waker reads.
struct WakeState {
    /// `IDLE`, `POLLING` or `POLLING_WOKEN`.
    phase: AtomicU8,
    /// The runtime's waker from the latest poll.
    outer: Mutex<Option<Waker>>,
}

impl WakeState {
    fn remember(&self, waker: &Waker) {
        let mut outer = self.outer.lock().unwrap_or_else(|p| p.into_inner());
        if !outer.as_ref().is_some_and(|o| o.will_wake(waker)) {
            *outer = Some(waker.clone());
        }
    }
}

impl Wake for WakeState {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.phase.compare_exchange(POLLING, POLLING_WOKEN, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return;
        }
        if self.phase.load(Ordering::SeqCst) == POLLING_WOKEN {
            return;
        }
        let outer = self.outer.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(outer) = outer {
            outer.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Goal: a future that wakes itself during its poll is polled again at once, and the
    /// runtime's waker is not woken; a wake-up from outside the poll reaches the runtime's waker.
    #[test]
    fn self_wake_is_absorbed_and_outside_wake_is_forwarded() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let outer = Waker::from(count.clone());
        let mut cx = Context::from_waker(&outer);
        let polls = Arc::new(AtomicUsize::new(0));
        let saved: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (polls_in, saved_in) = (polls.clone(), saved.clone());
        let mut future = AbsorbSelfWakes::new(std::future::poll_fn(move |cx| {
            let n = polls_in.fetch_add(1, Ordering::SeqCst);
            *saved_in.lock().unwrap() = Some(cx.waker().clone());
            match n {
                0 => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                1 | 2 => Poll::Pending,
                _ => Poll::Ready(()),
            }
        }));
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        saved.lock().unwrap().take().unwrap().wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut future).poll(&mut cx).is_ready());
    }

    /// Goal: a future that keeps waking itself is polled a bounded number of times per call,
    /// then yields through the runtime's waker.
    #[test]
    fn endless_self_wakes_yield_after_the_bound() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let outer = Waker::from(count.clone());
        let mut cx = Context::from_waker(&outer);
        let polls = Arc::new(AtomicUsize::new(0));
        let polls_in = polls.clone();
        let mut future = AbsorbSelfWakes::new(std::future::poll_fn(move |cx| -> Poll<()> {
            polls_in.fetch_add(1, Ordering::SeqCst);
            cx.waker().wake_by_ref();
            Poll::Pending
        }));
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), POLLS_PER_CALL_MAX);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}

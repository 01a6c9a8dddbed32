//! Deadlines on request bodies, for every route: a body that sends nothing for
//! [`BODY_IDLE`], or comes slower than [`BODY_MIN_RATE`] after [`BODY_GRACE`], ends in error
//! where it is read (a form, a multipart upload, a module's body), and the request is answered
//! 408 with the French page. A client trickling a form holds neither a connection, a task,
//! nor what its handler holds while it reads (an upload turn, memory) for long. The request's
//! head has its own deadline (`server::HEADER_READ_TIMEOUT`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::AppError;

/// How long a body may go without a byte before the host gives up on it.
pub const BODY_IDLE: Duration = Duration::from_secs(15);
/// After [`BODY_GRACE`], a body must have come at this many bytes per second on average (a
/// slow mobile link sends ten times more).
pub const BODY_MIN_RATE: u64 = 8 << 10;
/// The start a body gets before its rate is weighed.
pub const BODY_GRACE: Duration = Duration::from_secs(10);

/// Why a paced body ended.
#[derive(Debug, thiserror::Error)]
#[error("the request body came too slowly")]
pub struct TooSlow;

/// A request body under the deadlines above; `slow` is set when it broke one.
struct Paced {
    inner: Body,
    idle: Pin<Box<Sleep>>,
    started: Instant,
    seen: u64,
    slow: Arc<AtomicBool>,
}

impl Paced {
    fn fail(&self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.slow.store(true, Ordering::Release);
        Poll::Ready(Some(Err(axum::Error::new(TooSlow))))
    }
}

/// Whether `seen` bytes in `elapsed` is below the rate a body must keep.
fn too_slow(seen: u64, elapsed: Duration) -> bool {
    let Some(weighed) = elapsed.checked_sub(BODY_GRACE) else {
        return false;
    };
    u128::from(seen) < u128::from(BODY_MIN_RATE) * weighed.as_millis() / 1000
}

impl HttpBody for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                }
                if too_slow(this.seen, this.started.elapsed()) {
                    return this.fail();
                }
                this.idle.as_mut().reset(Instant::now() + BODY_IDLE);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if this.idle.as_mut().poll(cx).is_ready() {
                    return this.fail();
                }
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Puts a request's body (when it has one) under the deadlines, and answers 408 when the
/// handler's read ended on one, whatever the handler made of the error.
pub async fn paced(request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let slow = Arc::new(AtomicBool::new(false));
    let flag = slow.clone();
    let request = request.map(|inner| {
        Body::new(Paced {
            inner,
            idle: Box::pin(tokio::time::sleep(BODY_IDLE)),
            started: Instant::now(),
            seen: 0,
            slow: flag,
        })
    });
    let response = next.run(request).await;
    if slow.load(Ordering::Acquire) {
        return AppError::TooSlow.into_response();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_weighed_after_the_grace() {
        assert!(!too_slow(0, Duration::from_secs(9)));
        assert!(!too_slow(8 << 10, Duration::from_secs(11)));
        assert!(too_slow(1 << 10, Duration::from_secs(11)));
        assert!(!too_slow(1 << 20, Duration::from_secs(60)));
    }
}

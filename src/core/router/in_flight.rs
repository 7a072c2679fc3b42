//! A slot's response body that keeps its request counted as in flight until the body has
//! been sent (or the client went away): the response streams after the handler returned.

use crate::core::metrics::InFlight;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) struct TrackedBody {
    body: Incoming,
    /// Dropped when the body ends; hyper drops the whole body when the client goes away.
    in_flight: Option<InFlight>,
}

impl TrackedBody {
    pub(super) fn new(body: Incoming, in_flight: InFlight) -> TrackedBody {
        TrackedBody {
            body,
            in_flight: Some(in_flight),
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

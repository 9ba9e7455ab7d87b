//! The KIS gateway's response-header casing on the simulator's connections.
//!
//! KIS answers with standard header names capitalized (`Content-Type`) and its own names in
//! lowercase (`tr_id`, `tr_cont`, `gt_uid`); some clients only work with exactly that (KIS's own
//! Python samples turn the lowercase names into identifiers and break on `content-type`). hyper
//! writes every HTTP/1 header name in lowercase and offers no way to give a response's names their
//! case, so [`KisHeaderCase`] wraps the connection and rewrites the standard names in each response
//! head as it is written: the same bytes, only the case of those names changed. Bodies and the
//! byte stream after a `101 Switching Protocols` (the WebSocket) pass through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Standard header names in the case the gateway writes them. The KIS names (`tr_id`, `tr_cont`,
/// `gt_uid`) are absent on purpose: they stay lowercase.
const CANONICAL: &[&str] = &[
    "Content-Type",
    "Content-Length",
    "Date",
    "Connection",
    "Transfer-Encoding",
    "Upgrade",
    "Sec-WebSocket-Accept",
];

/// Bytes buffered before a write is passed on even without a flush.
const HIGH_WATER: usize = 64 * 1024;

/// An I/O object whose written HTTP/1 response heads carry the KIS gateway's header-name casing.
#[derive(Debug)]
pub struct KisHeaderCase<IO> {
    inner: IO,
    /// Written bytes not yet passed on; the front `sent` of them already are.
    pending: Vec<u8>,
    sent: usize,
    /// Bytes of `pending` (from the start) already rewritten.
    scanned: usize,
    /// Bytes of a body still to come after `pending` (not to be rewritten).
    body_left: usize,
    /// Where we are in the HTTP/1 byte stream.
    head: HeadState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadState {
    /// Inside response heads and bodies; header lines are rewritten.
    Http,
    /// The head of a `101` ends at this offset of `pending`; after it the stream is WebSocket.
    UpgradeAt(usize),
    /// After a `101 Switching Protocols`: every byte passes through.
    Upgraded,
}

impl<IO> KisHeaderCase<IO> {
    /// Wraps a connection.
    pub fn new(inner: IO) -> Self {
        Self { inner, pending: Vec::new(), sent: 0, scanned: 0, body_left: 0, head: HeadState::Http }
    }

    /// Rewrites the header names of the heads in `pending[scanned..]`.
    fn rewrite(&mut self) {
        if self.head != HeadState::Http {
            return;
        }
        let from = self.scanned.max(self.sent);
        let scan = rewrite_heads(&mut self.pending, from, self.body_left);
        self.scanned = scan.resume;
        self.body_left = scan.body_left;
        if let Some(end) = scan.upgrade_at {
            self.head = HeadState::UpgradeAt(end);
        }
    }
}

/// Where [`rewrite_heads`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scan {
    /// Offset to resume at when more bytes arrive before a flush (the start of an unfinished
    /// head line).
    resume: usize,
    /// Body bytes still to pass over beyond the buffer.
    body_left: usize,
    /// The end of a `101` head, if one was seen.
    upgrade_at: Option<usize>,
}

/// Rewrites the names of the header lines of every complete head line in `buf[from..]`, passing
/// over bodies by their `Content-Length` (the first `body_left` bytes are the rest of a body).
fn rewrite_heads(buf: &mut [u8], from: usize, body_left: usize) -> Scan {
    let mut i = from.saturating_add(body_left);
    if i > buf.len() {
        return Scan { resume: buf.len(), body_left: i - buf.len(), upgrade_at: None };
    }
    let mut content_length = 0_usize;
    let mut head_start = i;
    // Each step handles one line of a head: `i` is where it starts.
    while let Some(end) = find(buf, i, b"\r\n") {
        if end == i {
            // The blank line: the head ends and its body follows.
            let body = end + 2;
            if buf.get(head_start..).is_some_and(|h| h.starts_with(b"HTTP/1.1 101 ")) {
                return Scan { resume: body, body_left: 0, upgrade_at: Some(body) };
            }
            let next = body.saturating_add(content_length);
            if next > buf.len() {
                return Scan { resume: buf.len(), body_left: next - buf.len(), upgrade_at: None };
            }
            i = next;
            head_start = i;
            content_length = 0;
            continue;
        }
        if let Some(line) = buf.get_mut(i..end)
            && let Some(colon) = line.iter().position(|&b| b == b':')
            && let Some(name) = line.get(..colon).and_then(canonical)
            && let Some(dst) = line.get_mut(..colon)
        {
            dst.copy_from_slice(name.as_bytes());
            if name == "Content-Length" {
                let value = line.get(colon + 1..).and_then(|v| std::str::from_utf8(v).ok());
                content_length = value.and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            }
        }
        i = end + 2;
    }
    Scan { resume: i, body_left: 0, upgrade_at: None }
}

/// Returns the gateway's spelling of a standard header name, in any case.
fn canonical(name: &[u8]) -> Option<&'static str> {
    CANONICAL.iter().copied().find(|c| name.eq_ignore_ascii_case(c.as_bytes()))
}

fn find(buf: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    buf.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

impl<IO: AsyncWrite + Unpin> KisHeaderCase<IO> {
    /// Passes every pending byte on.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.rewrite();
        while self.sent < self.pending.len() {
            let chunk = self.pending.get(self.sent..).unwrap_or_default();
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, chunk))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
            if let HeadState::UpgradeAt(end) = self.head
                && self.sent >= end
            {
                self.head = HeadState::Upgraded;
            }
        }
        // hyper flushes whole heads, so no head line is left unfinished here.
        self.pending.clear();
        self.sent = 0;
        self.scanned = 0;
        if let HeadState::UpgradeAt(_) = self.head {
            self.head = HeadState::Upgraded;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for KisHeaderCase<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for KisHeaderCase<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.head == HeadState::Upgraded && this.pending.is_empty() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        if this.pending.len() >= HIGH_WATER {
            ready!(this.poll_drain(cx))?;
            if this.head == HeadState::Upgraded {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn written(parts: &[&[u8]], flush_each: bool) -> Vec<u8> {
        let mut out = KisHeaderCase::new(Vec::new());
        for p in parts {
            out.write_all(p).await.unwrap();
            if flush_each {
                out.flush().await.unwrap();
            }
        }
        out.flush().await.unwrap();
        out.inner
    }

    #[tokio::test]
    async fn standard_names_are_capitalized_and_kis_names_stay_lowercase() {
        let head: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ntr_id: VTTC0012U\r\ntr_cont: D\r\ngt_uid: x\r\ncontent-length: 2\r\ndate: Mon, 07 Dec 2026 00:00:00 GMT\r\n\r\n{}";
        let out = written(&[head], false).await;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\ntr_id: VTTC0012U\r\ntr_cont: D\r\ngt_uid: x\r\nContent-Length: 2\r\nDate: Mon, 07 Dec 2026 00:00:00 GMT\r\n\r\n{}"
        );
    }

    #[tokio::test]
    async fn a_name_split_across_writes_is_still_rewritten_and_lengths_are_kept() {
        let whole: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: a\r\ncontent-length: 0\r\n\r\n";
        for cut in 1..whole.len() {
            let (a, b) = whole.split_at(cut);
            let out = written(&[a, b], false).await;
            assert_eq!(out.len(), whole.len());
            assert!(out.windows(14).any(|w| w == b"\r\nContent-Type"), "cut at {cut}");
            assert!(out.windows(16).any(|w| w == b"\r\nContent-Length"), "cut at {cut}");
        }
    }

    #[tokio::test]
    async fn bodies_and_the_websocket_stream_after_a_switch_are_untouched() {
        let upgrade: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: abc=\r\n\r\n";
        let frame: &[u8] = b"\x81\x20x\r\ncontent-type: stays lowercase";
        let out = written(&[upgrade, frame], true).await;
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc=\r\n\r\n"
        ));
        assert!(out.ends_with(frame), "{text}");
        // In one write too.
        let both = [upgrade, frame].concat();
        let out = written(&[&both], false).await;
        assert!(out.ends_with(frame));
        // A JSON body cannot hold a raw line break, and a value is never rewritten.
        let json: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 24\r\n\r\n{\"content-type\":\"date:\"}";
        let out = written(&[json], false).await;
        assert!(out.ends_with(b"{\"content-type\":\"date:\"}"));
    }
}

//! Helpers for the router tests: a stdlib-only Python plugin that reports what it received,
//! echoes WebSocket messages (RFC 6455 handshake and framing), and can answer garbage; raw
//! HTTP over a TcpStream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The plugin's program, written to `plugins/<name>/echo.py`. Arguments: port, plugin name,
/// slot. It writes its pid to `pid-<slot>` so a test can kill exactly that process.
pub const ECHO_PY: &str = r#"
import base64, hashlib, json, os, struct, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, NAME, SLOT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
with open("pid-" + SLOT, "w") as f:
    f.write(str(os.getpid()))

def read_frame(rfile):
    head = rfile.read(2)
    if len(head) < 2:
        return None
    op, n = head[0] & 0x0F, head[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", rfile.read(8))[0]
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = bytearray(rfile.read(n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return op, bytes(data)

def write_frame(wfile, op, data):
    n = len(data)
    if n < 126:
        head = bytes([0x80 | op, n])
    elif n < 65536:
        head = bytes([0x80 | op, 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x80 | op, 127]) + struct.pack(">Q", n)
    wfile.write(head + data)
    wfile.flush()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s request-id %s\n" % (fmt % args, self.headers.get("x-request-id")))

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, b"ok")
        if self.path == "/garbage":
            self.wfile.write(b"HTTP/9.9 200 OK\r\n\r\n")
            self.close_connection = True
            return
        if self.headers.get("upgrade", "").lower() == "websocket":
            return self.websocket()
        body = json.dumps({
            "plugin": NAME, "slot": SLOT, "method": self.command, "path": self.path,
            "host": self.headers.get("host"), "request_id": self.headers.get("x-request-id"),
            "te": self.headers.get("te"),
        }).encode()
        self.reply(200, body)

    do_HEAD = do_GET
    do_DELETE = do_GET

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def websocket(self):
        key = self.headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            frame = read_frame(self.rfile)
            if frame is None:
                return
            op, data = frame
            if op == 8:
                write_frame(self.wfile, 8, data)
                return
            if op == 9:
                write_frame(self.wfile, 10, data)
                continue
            write_frame(self.wfile, op, (SLOT + ":").encode() + data)

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"#;

/// A manifest running `echo.py`; `route` is a `route = "/x"` or `host = "…"` line. With
/// `supervised`, a shell stays the slot's process and the Python server is its child, so a
/// killed server leaves the slot's process running (as a start script or supervisor would)
/// until health checks notice.
pub fn echo_plugin(name: &str, version: &str, route: &str, supervised: bool) -> String {
    let command = if supervised {
        "python3 echo.py {port} {plugin} {slot}; sleep 600"
    } else {
        "exec python3 echo.py {port} {plugin} {slot}"
    };
    format!(
        r#"[plugin]
name = "{name}"
version = "{version}"
{route}

[run]
command = "{command}"
stop_grace = "2s"
startup_timeout = "20s"

[health]
path = "/health"
interval = "300ms"
timeout = "250ms"
unhealthy_threshold = 3

[strategy]
kind = "blue-green"

[rollback]
keep_previous_warm = "30m"
"#
    )
}

/// Writes `echo.py` next to the plugin's manifest.
pub fn write_echo(ws: &super::TestWorkspace, plugin: &str) {
    ws.write(&format!("plugins/{plugin}/echo.py"), ECHO_PY);
}

/// Sends raw bytes, reads until the router closes or `deadline`; the whole answer.
pub fn raw_exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the router");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// The status code and body of a raw HTTP/1 answer (0 when there is none).
pub fn status_and_body(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A client WebSocket frame: FIN, the opcode, masked as RFC 6455 asks of clients.
pub fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one unmasked server frame: (opcode, payload).
pub fn ws_read(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).expect("frame head");
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut ext = [0u8; 2];
        stream.read_exact(&mut ext).expect("frame length");
        len = u64::from(u16::from_be_bytes(ext));
    } else if len == 127 {
        let mut ext = [0u8; 8];
        stream.read_exact(&mut ext).expect("frame length");
        len = u64::from_be_bytes(ext);
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).expect("frame payload");
    (head[0] & 0x0f, payload)
}

/// Reads an HTTP/1 response head byte by byte (so nothing after it is consumed).
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

//! A minimal RFC 5321 receiver on a real TCP socket, inside the test process: it accepts every
//! message and keeps it, so tests can assert on what arrived. It can be stopped (connections are
//! refused) and restarted on the same port.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as transmitted (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_lowercase());
        self.data
            .split("\r\n")
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").expect("every message has an id")
    }

    /// The Subject, with RFC 2047 encoded words decoded.
    pub fn subject(&self) -> String {
        let (head, _) = self.data.split_once("\r\n\r\n").unwrap_or((&self.data, ""));
        let raw = unfold(head)
            .into_iter()
            .find_map(|l| l.strip_prefix("Subject:").map(str::to_string))
            .unwrap_or_default();
        let mut out = String::new();
        let mut prev_encoded = false;
        for word in raw.split_whitespace() {
            let decoded = decode_word(word);
            let joins_encoded = prev_encoded && decoded.is_some();
            if !out.is_empty() && !joins_encoded {
                out.push(' ');
            }
            prev_encoded = decoded.is_some();
            out.push_str(&decoded.unwrap_or_else(|| word.to_string()));
        }
        out
    }

    /// Every MIME part's body, transfer-decoded, one after the other (plain text, then HTML).
    pub fn text(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or((&self.data, ""));
        let boundary = unfold(head)
            .into_iter()
            .find_map(|l| {
                l.split_once("boundary=")
                    .map(|(_, b)| b.trim_matches('"').to_string())
            })
            .expect("a multipart message");
        body.split(&format!("--{boundary}"))
            .filter_map(|part| {
                let (h, b) = part.split_once("\r\n\r\n")?;
                let h = h.to_lowercase();
                Some(if h.contains("content-transfer-encoding: base64") {
                    let compact: String = b.chars().filter(|c| !c.is_whitespace()).collect();
                    String::from_utf8(B64.decode(compact).unwrap()).unwrap()
                } else if h.contains("content-transfer-encoding: quoted-printable") {
                    quoted_printable(b)
                } else {
                    b.to_string()
                })
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

fn unfold(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for l in head.split("\r\n") {
        if l.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(l.trim_start());
                continue;
            }
        }
        lines.push(l.to_string());
    }
    lines
}

fn decode_word(w: &str) -> Option<String> {
    let inner = w.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let _charset = parts.next()?;
    let enc = parts.next()?;
    let text = parts.next()?;
    match enc {
        "b" | "B" => String::from_utf8(B64.decode(text).ok()?).ok(),
        _ => Some(quoted_printable(&text.replace('_', " "))),
    }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
    accept: Option<JoinHandle<()>>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let accept = Some(tokio::spawn(accept_loop(listener, inbox.clone())));
        Self {
            port,
            inbox,
            accept,
        }
    }

    /// Stops listening: new connections are refused until `restart`.
    pub async fn stop(&mut self) {
        if let Some(h) = self.accept.take() {
            h.abort();
            let _ = h.await;
        }
    }

    /// Listens again on the same port, keeping what arrived before.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the SMTP port");
        self.accept = Some(tokio::spawn(accept_loop(listener, self.inbox.clone())));
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived (the background sender test).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n || tokio::time::Instant::now() > deadline {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(h) = self.accept.take() {
            h.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, inbox: Arc<Mutex<Vec<Received>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(session(stream, inbox.clone()));
    }
}

async fn session(stream: TcpStream, inbox: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test-smtp ESMTP ready\r\n").await?;
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_uppercase();
        if upper.starts_with("EHLO") {
            write
                .write_all(b"250-test-smtp greets you\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
                .await?;
        } else if upper.starts_with("HELO") {
            write.write_all(b"250 test-smtp\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = cmd[10..].trim().to_string();
            rcpt_to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let to = cmd[8..].trim();
            rcpt_to.push(
                to.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches(['<', '>'])
                    .to_string(),
            );
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push_str("\r\n");
            }
            inbox.lock().unwrap().push(Received {
                mail_from: mail_from.clone(),
                rcpt_to: std::mem::take(&mut rcpt_to),
                data,
            });
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "RSET" {
            rcpt_to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "NOOP" {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 not implemented\r\n").await?;
        }
    }
}

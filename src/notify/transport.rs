//! Delivery: SMTP through lettre, or (development) one `.eml` file per message in
//! `email.file_dir`, so nothing needs a mail server.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{EmailSettings, EmailTransportKind, SmtpTls};
use crate::storage::models::OutboxRow;

/// Why a message was not delivered.
#[derive(Debug, Clone)]
pub struct SendError {
    /// The server (or the address itself) refused it for good: retrying cannot help.
    pub permanent: bool,
    pub message: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
}

impl Mailer {
    pub fn from_settings(s: &EmailSettings) -> anyhow::Result<Self> {
        match s.transport {
            EmailTransportKind::File => Ok(Mailer::File(s.file_dir.clone())),
            EmailTransportKind::Smtp => {
                let host = s.smtp_host.as_str();
                let mut b = match s.smtp_tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                            .tls(Tls::Required(TlsParameters::new(host.to_string())?))
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                        .tls(Tls::Wrapper(TlsParameters::new(host.to_string())?)),
                }
                .port(s.smtp_port)
                .timeout(Some(Duration::from_millis(s.smtp_timeout_ms)));
                if !s.smtp_username.is_empty() {
                    b = b.credentials(Credentials::new(
                        s.smtp_username.clone(),
                        s.smtp_password.expose_secret().to_string(),
                    ));
                }
                Ok(Mailer::Smtp(b.build()))
            }
        }
    }

    pub async fn send(&self, from: &str, row: &OutboxRow) -> Result<(), SendError> {
        let message = build_message(from, row)?;
        match self {
            Mailer::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: format!("smtp: {e}"),
            }),
            Mailer::File(dir) => {
                let io = |e: std::io::Error| SendError {
                    permanent: false,
                    message: format!("writing to {}: {e}", dir.display()),
                };
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
                // Named by outbox id and message id: a retry overwrites, never duplicates. The
                // `.eml` is the exact message; the `.txt` beside it is for people to read.
                let stem = format!("{:08}-{}-{}", row.id, row.kind, row.message_id);
                tokio::fs::write(dir.join(format!("{stem}.eml")), message.formatted())
                    .await
                    .map_err(io)?;
                tokio::fs::write(dir.join(format!("{stem}.txt")), readable(row))
                    .await
                    .map_err(io)
            }
        }
    }
}

/// The MIME message of an outbox row: multipart/alternative, plain text then HTML, with the
/// row's stable Message-ID.
pub fn build_message(from: &str, row: &OutboxRow) -> Result<Message, SendError> {
    let permanent = |what: &str, e: &dyn std::fmt::Display| SendError {
        permanent: true,
        message: format!("{what}: {e}"),
    };
    let from: Mailbox = from.parse().map_err(|e| SendError {
        permanent: false,
        message: format!("email.from is not an address: {e}"),
    })?;
    let address = row
        .recipient
        .parse()
        .map_err(|e| permanent("recipient address", &e))?;
    let name = (!row.recipient_name.trim().is_empty()).then(|| row.recipient_name.clone());
    let to = Mailbox::new(name, address);
    Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}@gongyi>", row.message_id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(Body::new(row.body_text.clone())),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(Body::new(row.body_html.clone())),
                ),
        )
        .map_err(|e| permanent("building the message", &e))
}

/// The message as a person reads it: addressee, subject, plain-text body.
pub fn readable(row: &OutboxRow) -> String {
    format!(
        "To: {} <{}>\nSubject: {}\nMessage-ID: <{}@gongyi>\nKind: {}\n\n{}",
        row.recipient_name, row.recipient, row.subject, row.message_id, row.kind, row.body_text
    )
}

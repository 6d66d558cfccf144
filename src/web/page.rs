//! What every page template knows: the reader's language, who is signed in, this session's CSRF
//! token, and how to write amounts, times and status names.

use std::borrow::{Borrow, Cow};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::user::{Language, Role};
use crate::i18n;
use crate::service::sessions::WebSession;
use crate::web::{assets, format};

pub struct PageContext {
    pub lang: Language,
    /// The signed-in user's name and role, for the header.
    pub user: Option<(String, Role)>,
    /// The hidden `csrf_token` of every form.
    pub csrf: String,
    pub tz: chrono_tz::Tz,
}

impl PageContext {
    pub fn new(session: &WebSession, time_zone: &str) -> Self {
        Self {
            lang: i18n::current(),
            user: Some((session.caller.name.clone(), session.caller.role)),
            csrf: session.csrf_token.clone(),
            tz: format::zone(time_zone),
        }
    }

    /// For pages without a session (sign-in, errors); `csrf` is the sign-in form's token.
    pub fn anonymous(lang: Language) -> Self {
        Self {
            lang,
            user: None,
            csrf: String::new(),
            tz: chrono_tz::Asia::Shanghai,
        }
    }

    pub fn t(&self, en: &'static str) -> Cow<'static, str> {
        i18n::t(self.lang, en)
    }

    /// A word the code stores in English (a status, a category), in the reader's language.
    pub fn word(&self, en: &str) -> String {
        i18n::text(self.lang, en)
    }

    pub fn lang_attr(&self) -> &'static str {
        match self.lang {
            Language::Zh => "zh-CN",
            Language::En => "en",
        }
    }

    pub fn yuan(&self, amount: impl AsAmount) -> String {
        format::yuan(amount.decimal())
    }

    pub fn fen(&self, amount: impl AsAmount) -> String {
        format::fen(amount.decimal())
    }

    pub fn time(&self, t: impl Borrow<DateTime<Utc>>) -> String {
        format::local_time(*t.borrow(), self.tz)
    }

    pub fn opt_time(&self, t: impl Borrow<Option<DateTime<Utc>>>) -> String {
        t.borrow()
            .map(|t| format::local_time(t, self.tz))
            .unwrap_or_else(|| "—".into())
    }

    pub fn date(&self, d: impl Borrow<Option<NaiveDate>>) -> String {
        d.borrow().map(format::date).unwrap_or_else(|| "—".into())
    }

    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    pub fn is(&self, role: &str) -> bool {
        self.user.as_ref().is_some_and(|(_, r)| r.as_str() == role)
    }
}

/// Anything the pages show as an amount of money.
pub trait AsAmount {
    fn decimal(&self) -> Decimal;
}

impl AsAmount for Decimal {
    fn decimal(&self) -> Decimal {
        *self
    }
}

impl AsAmount for crate::domain::money::Money {
    fn decimal(&self) -> Decimal {
        self.amount()
    }
}

impl<T: AsAmount> AsAmount for &T {
    fn decimal(&self) -> Decimal {
        (**self).decimal()
    }
}

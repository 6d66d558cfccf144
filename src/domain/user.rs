//! Users and their roles.

string_enum! {
    /// What a user may do; see docs/SECURITY.md for the full matrix.
    pub enum Role {
        Admin = "admin",
        Applicant = "applicant",
        Reviewer = "reviewer",
        Finance = "finance",
    }
}

string_enum! {
    /// Language of the emails a user receives.
    pub enum Language {
        Zh = "zh",
        En = "en",
    }
}

/// An email address, trimmed, checked for shape, compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() < 3 || s.len() > 254 {
            return Err("an email address has 3 to 254 characters".into());
        }
        if !validator::ValidateEmail::validate_email(&s) {
            return Err(format!("`{s}` is not an email address"));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The form uniqueness and sign-in compare on.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A password meeting the minimum policy (length only, per NIST SP 800-63B).
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(format!(
                "a password has at least {} characters",
                Self::MIN_CHARS
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(format!(
                "a password has at most {} characters",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(raw))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_normalized() {
        let e = EmailAddress::parse("  Alice@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "Alice@Example.ORG");
        assert_eq!(e.normalized(), "alice@example.org");
        assert!(EmailAddress::parse("not-an-email").is_err());
        assert!(EmailAddress::parse("").is_err());
    }

    #[test]
    fn password_length_bounds() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("x".repeat(10)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn role_round_trips_as_text() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}

//! Unified social credit code (统一社会信用代码, GB 32100-2015) and the organization types
//! it must agree with.

use std::fmt;

const CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// GB 11714 organization-code weights (chars 9–16 of the credit code).
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("a unified social credit code has 18 characters, this one has {0}")]
    Length(usize),
    #[error("character {position} (`{found}`) is not allowed; allowed are 0-9 and A-Y without I, O, S, V, Z")]
    Character { position: usize, found: char },
    #[error("the organization code (characters 9-17) has check character `{found}`, expected `{expected}`")]
    OrganizationCheck { expected: char, found: char },
    #[error("the check character (18th) is `{found}`, expected `{expected}`")]
    Check { expected: char, found: char },
    #[error(
        "a {org_type} needs a code starting with `{expected}`, this one starts with `{found}`"
    )]
    TypeMismatch {
        org_type: OrganizationType,
        expected: &'static str,
        found: String,
    },
    #[error("a {0} must have a unified social credit code")]
    Missing(OrganizationType),
}

fn value(c: char) -> Option<u32> {
    CHARSET.find(c).map(|i| i as u32)
}

/// GB 11714 value of a body character: digits 0-9, letters A=10 … Z=35.
// Safe: each arm subtracts the lowest code point of its own range.
#[allow(clippy::arithmetic_side_effects)]
fn org_value(c: char) -> u32 {
    match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        _ => 0,
    }
}

/// The GB 32100 check character for the first 17 characters (all from the charset).
// Safe: values are below 31 and the 17 weights below 31, so the sum stays below 17 × 900.
#[allow(clippy::arithmetic_side_effects)]
pub fn check_char(first17: &str) -> char {
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| value(c).unwrap_or(0) * w)
        .sum();
    let check = (31 - sum % 31) % 31;
    CHARSET.chars().nth(check as usize).expect("index below 31")
}

/// The GB 11714 check character of an 8-character organization-code body.
// Safe: values are below 36 and the 8 weights below 32, so the sum stays below 8 × 1152;
// `11 - sum % 11` is 1..=11.
#[allow(clippy::arithmetic_side_effects)]
pub fn org_check_char(body: &str) -> char {
    let sum: u32 = body
        .chars()
        .zip(ORG_WEIGHTS)
        .map(|(c, w)| org_value(c) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).expect("below 10"),
    }
}

impl CreditCode {
    pub fn parse(raw: &str) -> Result<Self, CreditCodeError> {
        let chars: Vec<char> = raw.chars().collect();
        if chars.len() != 18 {
            return Err(CreditCodeError::Length(chars.len()));
        }
        if let Some((i, &c)) = chars.iter().enumerate().find(|(_, c)| value(**c).is_none()) {
            return Err(CreditCodeError::Character {
                position: i.saturating_add(1),
                found: c,
            });
        }
        let body: String = chars[8..16].iter().collect();
        let expected = org_check_char(&body);
        if chars[16] != expected {
            return Err(CreditCodeError::OrganizationCheck {
                expected,
                found: chars[16],
            });
        }
        let first17: String = chars[..17].iter().collect();
        let expected = check_char(&first17);
        if chars[17] != expected {
            return Err(CreditCodeError::Check {
                expected,
                found: chars[17],
            });
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Character 1: the registering authority (`5` = civil affairs).
    pub fn registration_authority(&self) -> char {
        self.0.chars().next().expect("18 chars")
    }

    /// Character 2: the category under that authority.
    pub fn category(&self) -> char {
        self.0.chars().nth(1).expect("18 chars")
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_enum! {
    /// The kinds of social organization (domain.md).
    pub enum OrganizationType {
        /// 社会团体
        SocialGroup = "social_group",
        /// 民办非企业单位
        PrivateNonEnterprise = "private_non_enterprise",
        /// 基金会
        Foundation = "foundation",
        /// 备案社区社会组织: filed, may have no credit code.
        CommunityOrganization = "community_organization",
    }
}

impl OrganizationType {
    /// The first two characters a civil-affairs credit code of this type carries.
    pub fn code_prefix(self) -> &'static str {
        match self {
            OrganizationType::SocialGroup => "51",
            OrganizationType::PrivateNonEnterprise => "52",
            OrganizationType::Foundation => "53",
            OrganizationType::CommunityOrganization => "59",
        }
    }
}

/// A registered organization's code must be a civil-affairs code of its category; only filed
/// community organizations may have none.
pub fn check_code_matches_type(
    code: Option<&CreditCode>,
    org_type: OrganizationType,
) -> Result<(), CreditCodeError> {
    match code {
        None if org_type == OrganizationType::CommunityOrganization => Ok(()),
        None => Err(CreditCodeError::Missing(org_type)),
        Some(code) => {
            let prefix: String = code.as_str().chars().take(2).collect();
            if prefix == org_type.code_prefix() {
                Ok(())
            } else {
                Err(CreditCodeError::TypeMismatch {
                    org_type,
                    expected: org_type.code_prefix(),
                    found: prefix,
                })
            }
        }
    }
}

/// Builds a valid code from 8 leading characters and an 8-character organization body
/// (used by tests and the demo data).
pub fn complete_code(head8: &str, org_body8: &str) -> String {
    let mut s = format!("{head8}{org_body8}{}", org_check_char(org_body8));
    let c = check_char(&s);
    s.push(c);
    s
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_reference_example() {
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.category(), '1');
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            CreditCode::parse("123").unwrap_err(),
            CreditCodeError::Length(3)
        );
        assert!(matches!(
            CreditCode::parse("91350100M000100Y4I").unwrap_err(),
            CreditCodeError::Character {
                position: 18,
                found: 'I'
            }
        ));
        assert!(matches!(
            CreditCode::parse("91350100M000100Y44").unwrap_err(),
            CreditCodeError::Check {
                expected: '3',
                found: '4'
            }
        ));
        assert!(matches!(
            CreditCode::parse("91350100M000100Y53").unwrap_err(),
            CreditCodeError::OrganizationCheck { .. }
        ));
        assert!(CreditCode::parse("91350100m000100y43").is_err());
    }

    #[test]
    fn type_must_match_category() {
        let sg = CreditCode::parse(&complete_code("51320583", "MJ000001")).unwrap();
        assert!(check_code_matches_type(Some(&sg), OrganizationType::SocialGroup).is_ok());
        assert!(check_code_matches_type(Some(&sg), OrganizationType::Foundation).is_err());
        assert!(check_code_matches_type(None, OrganizationType::CommunityOrganization).is_ok());
        assert!(check_code_matches_type(None, OrganizationType::Foundation).is_err());
    }

    fn org_body() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(
                "0123456789ABCDEFGHJKLMNPQRTUWXY"
                    .chars()
                    .collect::<Vec<_>>(),
            ),
            8,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn valid_code() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(vec!["51", "52", "53", "59", "91", "12"]),
            100000u32..999999,
            org_body(),
        )
            .prop_filter_map("org check char must be in the charset", |(p, div, body)| {
                // An organization check char of `X` is outside GB 32100's charset.
                (org_check_char(&body) != 'X').then(|| complete_code(&format!("{p}{div}"), &body))
            })
    }

    proptest! {
        #[test]
        fn generated_codes_are_valid(code in valid_code()) {
            prop_assert!(CreditCode::parse(&code).is_ok(), "{}", code);
        }

        #[test]
        fn every_single_substitution_is_rejected(code in valid_code()) {
            let chars: Vec<char> = code.chars().collect();
            for pos in 0..18 {
                for c in CHARSET.chars().filter(|c| *c != chars[pos]) {
                    let mut changed = chars.clone();
                    changed[pos] = c;
                    let changed: String = changed.into_iter().collect();
                    prop_assert!(CreditCode::parse(&changed).is_err(), "{} accepted", changed);
                }
            }
        }
    }
}

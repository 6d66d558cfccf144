//! One message catalog for people: violation messages, error details and page labels, in
//! Simplified Chinese (the default) and English.
//!
//! Messages are written in English in the code (the catalog key, as in gettext); `text` looks
//! up the Chinese. A key may hold `{}` holes for values the code formats in (`"the round is
//! {}"`): the pieces are taken from the English text, translated themselves when the catalog
//! knows them, and put into the Chinese pattern in order. Rules with a limit and an actual
//! value have a sentence of their own per rule (`rule_message`), so the numbers are placed
//! where Chinese puts them.

mod zh;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::domain::user::Language;
use crate::domain::violation::Violation;

tokio::task_local! {
    static LANGUAGE: Language;
}

/// Runs `fut` with `lang` as the language of everything it renders for people.
pub async fn scope<F: std::future::Future>(lang: Language, fut: F) -> F::Output {
    LANGUAGE.scope(lang, fut).await
}

/// The language of the request being handled; Chinese outside a request.
pub fn current() -> Language {
    LANGUAGE.try_with(|l| *l).unwrap_or(Language::Zh)
}

/// Picks zh or en from an `Accept-Language` header: the most preferred of the two wins,
/// Chinese when neither is named (the bureau's language).
pub fn negotiate(accept_language: Option<&str>) -> Option<Language> {
    let header = accept_language?;
    let mut best: Option<(f32, usize, Language)> = None;
    for (i, part) in header.split(',').enumerate() {
        let mut pieces = part.trim().split(';');
        let tag = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            Language::Zh
        } else if tag == "en" || tag.starts_with("en-") {
            Language::En
        } else {
            continue;
        };
        if q <= 0.0 {
            continue;
        }
        // Higher q first; at equal q the one listed first.
        let better = match best {
            None => true,
            Some((bq, _, _)) => q > bq,
        };
        if better {
            best = Some((q, i, lang));
        }
    }
    best.map(|(_, _, l)| l)
}

struct Catalog {
    exact: HashMap<&'static str, &'static str>,
    /// Keys with `{}` holes: (pieces of the English key, the Chinese pattern).
    patterns: Vec<(Vec<&'static str>, &'static str)>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        for (en, zh) in zh::MESSAGES {
            if en.contains("{}") {
                patterns.push((en.split("{}").collect(), *zh));
            } else {
                exact.insert(*en, *zh);
            }
        }
        // Longer literal parts first, so the most specific pattern wins.
        patterns.sort_by_key(|(parts, _): &(Vec<&str>, &str)| {
            std::cmp::Reverse(parts.iter().map(|p| p.len()).sum::<usize>())
        });
        Catalog { exact, patterns }
    })
}

/// `en` in `lang`: the catalog's Chinese, or the English itself.
pub fn text(lang: Language, en: &str) -> String {
    match lang {
        Language::En => en.to_string(),
        Language::Zh => zh_text(en).unwrap_or_else(|| en.to_string()),
    }
}

/// The Chinese of `en`, when the catalog has it.
pub fn zh_text(en: &str) -> Option<String> {
    let cat = catalog();
    if let Some(zh) = cat.exact.get(en) {
        return Some((*zh).to_string());
    }
    for (parts, zh) in &cat.patterns {
        if let Some(holes) = match_pattern(parts, en) {
            let mut out = String::new();
            let mut rest = *zh;
            for hole in holes {
                let Some(at) = rest.find("{}") else { break };
                out.push_str(&rest[..at]);
                out.push_str(&zh_text(hole).unwrap_or_else(|| hole.to_string()));
                rest = &rest[at + 2..];
            }
            out.push_str(rest);
            return Some(out);
        }
    }
    None
}

/// The holes of `text` when it has the shape `parts[0] {} parts[1] {} …`.
fn match_pattern<'t>(parts: &[&str], text: &'t str) -> Option<Vec<&'t str>> {
    let (first, rest) = parts.split_first()?;
    let mut remaining = text.strip_prefix(first)?;
    let mut holes = Vec::with_capacity(rest.len());
    for (i, part) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        let at = if last {
            if part.is_empty() {
                remaining.len()
            } else if remaining.ends_with(part) {
                remaining.len() - part.len()
            } else {
                return None;
            }
        } else if part.is_empty() {
            return None;
        } else {
            remaining.find(part)?
        };
        let hole = &remaining[..at];
        if hole.is_empty() {
            return None;
        }
        holes.push(hole);
        remaining = &remaining[at + part.len()..];
    }
    remaining.is_empty().then_some(holes)
}

/// A violation with its message in `lang`; rule, limit, actual and field stay as they are.
pub fn localize_violation(lang: Language, v: &Violation) -> Violation {
    let mut out = v.clone();
    if lang == Language::Zh {
        out.message = rule_message(v)
            .or_else(|| zh_text(&v.message))
            .unwrap_or_else(|| v.message.clone());
    }
    out
}

/// The Chinese sentence of a rule whose numbers matter, built from its limit and actual value.
fn rule_message(v: &Violation) -> Option<String> {
    let limit = v.limit.as_deref();
    let actual = v.actual.as_deref();
    let template = zh::RULES
        .iter()
        .find(|(rule, _)| *rule == v.rule)
        .map(|(_, t)| *t)?;
    if (template.contains("{limit}") && limit.is_none())
        || (template.contains("{actual}") && actual.is_none())
    {
        return None;
    }
    Some(
        template
            .replace("{limit}", limit.unwrap_or_default())
            .replace("{actual}", actual.unwrap_or_default()),
    )
}

/// Page labels and short texts: `t(lang, "Sign in")`.
pub fn t(lang: Language, en: &'static str) -> std::borrow::Cow<'static, str> {
    match lang {
        Language::En => std::borrow::Cow::Borrowed(en),
        Language::Zh => match catalog().exact.get(en) {
            Some(zh) => std::borrow::Cow::Borrowed(zh),
            None => std::borrow::Cow::Owned(zh_text(en).unwrap_or_else(|| en.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_higher_weight_and_defaults_to_none() {
        assert_eq!(negotiate(Some("en-US,en;q=0.9")), Some(Language::En));
        assert_eq!(
            negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Some(Language::Zh)
        );
        assert_eq!(negotiate(Some("fr, en;q=0.5")), Some(Language::En));
        assert_eq!(negotiate(Some("en;q=0.2, zh-TW;q=0.8")), Some(Language::Zh));
        assert_eq!(negotiate(Some("fr")), None);
        assert_eq!(negotiate(None), None);
        assert_eq!(negotiate(Some("en;q=0")), None);
    }

    #[test]
    fn patterns_fill_their_holes_in_order_and_translate_known_pieces() {
        let parts = vec!["a ", " b ", ""];
        assert_eq!(match_pattern(&parts, "a x b yz"), Some(vec!["x", "yz"]));
        assert_eq!(match_pattern(&parts, "a  b y"), None);
        assert_eq!(match_pattern(&["exact"], "exact"), Some(vec![]));
        assert_eq!(match_pattern(&["exact"], "exactly"), None);
    }

    #[test]
    fn english_stays_english_and_unknown_text_falls_back() {
        assert_eq!(
            text(Language::En, "no such resource, or not one you may see"),
            "no such resource, or not one you may see"
        );
        assert_eq!(text(Language::Zh, "zz unknown zz"), "zz unknown zz");
        assert_ne!(
            text(Language::Zh, "no such resource, or not one you may see"),
            "no such resource, or not one you may see"
        );
    }

    #[test]
    fn the_personnel_ratio_reads_as_percentages() {
        let v = Violation::new(
            "personnel_ratio",
            "personnel cost exceeds the share of the budget",
        )
        .limit("50.00%")
        .actual("50.01%");
        let zh = localize_violation(Language::Zh, &v);
        assert_eq!(zh.message, "人员经费占预算总额 50.01%，超过上限 50.00%");
        assert_eq!(zh.rule, "personnel_ratio");
        assert_eq!(localize_violation(Language::En, &v).message, v.message);
    }

    #[test]
    fn bound_refusals_read_in_chinese() {
        let range = crate::domain::bounds::QUANTITY
            .parse("99999999999999999999")
            .unwrap_err()
            .into_violation("lines[0].quantity");
        assert_eq!(
            localize_violation(Language::Zh, &range).message,
            "数量的取值范围为 (0, 10000000]"
        );
        let format = crate::domain::bounds::MONEY
            .parse("1.001")
            .unwrap_err()
            .into_violation("total_pool");
        assert_eq!(
            localize_violation(Language::Zh, &format).message,
            "金额须为形如 \"12.5\" 的十进制字符串：最多 2 位小数"
        );
    }

    #[test]
    fn every_catalog_pattern_has_as_many_holes_in_both_languages() {
        for (en, zh) in zh::MESSAGES {
            assert_eq!(en.matches("{}").count(), zh.matches("{}").count(), "{en}");
            assert!(!en.contains("{}{}"), "adjacent holes cannot be split: {en}");
        }
    }
}

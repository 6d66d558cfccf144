//! Hand-written SQL that Postgres plans once per connection.
//!
//! `diesel::sql_query` marks itself unsafe to cache, so every call sends its text unnamed and
//! the server parses and plans it again; for the finance queue's joins the planning cost more
//! than the query (about 6 ms against 0.3 ms). `.prepared()` on such a query (binds included)
//! tells diesel's statement cache that the text is fixed: it is prepared on first use and reused
//! afterwards, keyed by its text and bind types. Only fixed texts belong here: a text built from
//! values would be a new statement per value and fill the cache.
//!
//! diesel also refuses to cache every UPDATE and any INSERT with an optional field or several
//! rows, because their text depends on which fields are set: on the hot write paths (a score
//! sheet saved, an audit event, an application's emails) each call site sets the same fields
//! every time, so their texts are few and fixed, and `.prepared()` spares the server a parse and
//! plan per statement (and the service a round trip to prepare it).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::QueryResult;

/// A raw SQL query whose text is fixed, so it may be kept as a prepared statement.
#[derive(Debug, Clone)]
#[must_use = "Queries are only executed when calling `load`, `get_result` or similar."]
pub struct Prepared<Q>(Q);

pub trait PrepareExt: Sized {
    /// This statement, cached as a prepared statement (its text must not depend on values, and
    /// take only a few forms at its call site).
    fn prepared(self) -> Prepared<Self> {
        Prepared(self)
    }
}

impl<Q: QueryFragment<Pg>> PrepareExt for Q {}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    // The one point of the type: the inner `SqlQuery` answers no, because it cannot know
    // that its text is fixed; the caller of `prepared` promises that it is.
    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    // No static id: the cache keys the statement by its text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::query_dsl::RunQueryDsl<Conn> for Prepared<Q> {}

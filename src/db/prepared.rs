//! Statements diesel does not write itself: an UPDATE it keeps prepared, and two writes
//! as one PostgreSQL statement.

/// `UPDATE … SET … WHERE …`, optionally `RETURNING` every column, as a statement diesel
/// keeps prepared under its text. Its own `UPDATE`s are prepared again at every
/// execution (`UpdateStatement` marks itself unsafe to cache); on the request paths that
/// cost PostgreSQL a parse and a plan each time.
pub(crate) struct PreparedUpdate<T: diesel::Table, S, W> {
    from: T::FromClause,
    set: S,
    filter: W,
    returning: Option<T::AllColumns>,
}

pub(crate) fn prepared_update<T, V, W>(
    table: T,
    set: V,
    filter: W,
) -> PreparedUpdate<T, V::Changeset, W>
where
    T: diesel::Table,
    V: diesel::AsChangeset<Target = T>,
{
    PreparedUpdate {
        from: table.from_clause(),
        set: set.as_changeset(),
        filter,
        returning: None,
    }
}

impl<T: diesel::Table, S, W> PreparedUpdate<T, S, W> {
    /// The rows as written, in the same statement.
    pub(crate) fn returning_all(mut self) -> Self {
        self.returning = Some(T::all_columns());
        self
    }
}

impl<T: diesel::Table, S, W> diesel::query_builder::QueryId for PreparedUpdate<T, S, W> {
    // Not static: diesel then keeps each statement under its SQL text.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T: diesel::Table, S, W> diesel::query_builder::Query for PreparedUpdate<T, S, W> {
    type SqlType = <T::AllColumns as diesel::Expression>::SqlType;
}

impl<DB, T, S, W> diesel::query_builder::QueryFragment<DB> for PreparedUpdate<T, S, W>
where
    DB: diesel::backend::Backend,
    T: diesel::Table,
    T::FromClause: diesel::query_builder::QueryFragment<DB>,
    T::AllColumns: diesel::query_builder::QueryFragment<DB>,
    S: diesel::query_builder::QueryFragment<DB>,
    W: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.set.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        if let Some(columns) = &self.returning {
            out.push_sql(" RETURNING ");
            columns.walk_ast(out.reborrow())?;
        }
        Ok(())
    }
}

impl<T: diesel::Table, S, W, Conn> diesel::RunQueryDsl<Conn> for PreparedUpdate<T, S, W> {}

/// Two writes as one PostgreSQL statement, `WITH first AS (a) b`: both or neither (a
/// failure of either fails the statement), in one round trip and without BEGIN and COMMIT.
/// PostgreSQL runs a write in WITH to completion whether or not `b` reads it.
pub(crate) struct Together<A, B>(pub A, pub B);

diesel::table! {
    /// The rows the first write of a `Together` returned, as the second reads them.
    first (id) {
        id -> Text,
    }
}

impl<A, B> diesel::query_builder::QueryId for Together<A, B> {
    // Not static: diesel then keeps the statement under its SQL text.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<A, B: diesel::query_builder::Query> diesel::query_builder::Query for Together<A, B> {
    type SqlType = B::SqlType;
}

impl<A, B> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Together<A, B>
where
    A: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    B: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("WITH first AS (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.1.walk_ast(out.reborrow())
    }
}

impl<A, B> diesel::RunQueryDsl<diesel::PgConnection> for Together<A, B> {}

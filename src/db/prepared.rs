//! Statements diesel does not write itself: an UPDATE it keeps prepared, and writes
//! chained as one PostgreSQL statement.

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
pub(crate) fn together<A, B>(a: A, b: B) -> With<A, B> {
    With("first", a, b)
}

diesel::table! {
    /// The rows the first write of `together` returned, as the second reads them (in a
    /// chained confirmation, the token row its step was spent in).
    first (id) {
        id -> Text,
    }
}

/// Writes chained as one PostgreSQL statement, `WITH name AS (a) b`, where `b` is another
/// link (`And`) or the statement's end: all or none, in one round trip, each link reading
/// the rows the ones before it returned by their names.
pub(crate) struct With<A, B>(pub &'static str, pub A, pub B);

/// A further link of a `With`: `, name AS (a) b`.
pub(crate) struct And<A, B>(pub &'static str, pub A, pub B);

/// The end of a `With` that answers every column of table `T`, as link `0` returned them.
pub(crate) struct AllOf<T>(pub &'static str, pub std::marker::PhantomData<T>);

diesel::table! {
    /// The token row a chained confirmation locked first: a confirmation's transaction
    /// writes its token row before its transfer too.
    token (id) {
        id -> Text,
    }
}

diesel::table! {
    /// The transfer a chained confirmation locked, as its spend reads it.
    pending (id) {
        id -> Text,
    }
}

diesel::table! {
    /// The row a chained statement wrote, as the audit event that records it reads it.
    written (id) {
        id -> Text,
    }
}

macro_rules! link {
    ($link:ident, $opening:literal) => {
        impl<A, B> diesel::query_builder::QueryId for $link<A, B> {
            // Not static: diesel then keeps the statement under its SQL text.
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl<A, B: diesel::query_builder::Query> diesel::query_builder::Query for $link<A, B> {
            type SqlType = B::SqlType;
        }

        impl<A, B> diesel::query_builder::QueryFragment<diesel::pg::Pg> for $link<A, B>
        where
            A: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
            B: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
        {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($opening);
                out.push_identifier(self.0)?;
                out.push_sql(" AS (");
                self.1.walk_ast(out.reborrow())?;
                out.push_sql(") ");
                self.2.walk_ast(out.reborrow())
            }
        }

        impl<A, B> diesel::RunQueryDsl<diesel::PgConnection> for $link<A, B> {}
    };
}

link!(With, "WITH ");
link!(And, ", ");

impl<T> diesel::query_builder::QueryId for AllOf<T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T: diesel::Table> diesel::query_builder::Query for AllOf<T> {
    type SqlType = <T::AllColumns as diesel::Expression>::SqlType;
}

impl<T> diesel::query_builder::QueryFragment<diesel::pg::Pg> for AllOf<T> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("SELECT * FROM ");
        out.push_identifier(self.0)
    }
}

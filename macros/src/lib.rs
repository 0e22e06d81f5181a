//! `#[engine_test]` turns `async fn name(app: TestApp) { … }` into a module `name` with
//! two tests, `on_sqlite` and `on_postgres`, that run the body against a fresh server on
//! each engine. The body stays an ordinary function, so rustfmt and clippy see it.
//!
//! `on_postgres` is compiled as ignored unless the build saw `TEST_DATABASE_URL` (the
//! crate's build script sets `cfg(webfb_postgres_tests)`), so a run without PostgreSQL
//! reports those tests as ignored, never as passed.
//!
//! `#[engine_test(spawn_app_real_clock)]` starts the servers with another helper of
//! `crate::helpers` (here: on the wall clock, for codes from an external generator).

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, ItemFn, parse_macro_input};

#[proc_macro_attribute]
pub fn engine_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let spawn = if attr.is_empty() {
        format_ident!("spawn_app")
    } else {
        parse_macro_input!(attr as Ident)
    };
    let mut body = parse_macro_input!(item as ItemFn);
    let name = body.sig.ident.clone();
    let docs: Vec<_> = body
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    body.attrs.retain(|a| !a.path().is_ident("doc"));
    body.sig.ident = format_ident!("run");
    quote! {
        #(#docs)*
        mod #name {
            #[allow(unused_imports)]
            use super::*;

            #body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                run(crate::helpers::#spawn(crate::helpers::Engine::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(webfb_postgres_tests),
                ignore = "PostgreSQL: set TEST_DATABASE_URL=postgres://… and run again"
            )]
            async fn on_postgres() {
                run(crate::helpers::#spawn(crate::helpers::Engine::Postgres).await).await
            }
        }
    }
    .into()
}

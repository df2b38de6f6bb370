//! `#[backends]`: one async test, run once per storage backend.
//!
//! ```text
//! #[backends]
//! async fn creates_a_row() { let s = common::start(ir()).await; … }
//! ```
//!
//! becomes the module `creates_a_row` with the tests `sqlite` and `postgres`, each running the
//! body with `common::db::backend()` answering its backend. The test crate provides
//! `common::db::run(Backend, future)`, which skips the Postgres run with a printed notice when
//! `WARD_TEST_POSTGRES_URL` is unset.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

#[proc_macro_attribute]
pub fn backends(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let f = parse_macro_input!(item as ItemFn);
    if f.sig.asyncness.is_none() || !f.sig.inputs.is_empty() {
        return syn::Error::new_spanned(&f.sig, "#[backends] takes an `async fn name()`")
            .to_compile_error()
            .into();
    }
    let name = &f.sig.ident;
    let attrs = &f.attrs;
    let body = &f.block;
    quote! {
        #(#attrs)*
        mod #name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                crate::common::db::run(crate::common::db::Backend::Sqlite, async move #body).await
            }

            #[tokio::test]
            async fn postgres() {
                crate::common::db::run(crate::common::db::Backend::Postgres, async move #body).await
            }
        }
    }
    .into()
}

//! `#[derive(Row)]`: reads a database row into a struct by column name, for Parvis's statement
//! API (`parvis_core::db::sql`), so a row shape is declared once, on the struct, instead of a
//! hand-written `row.get("…")` per field.
//!
//! Field attributes, `#[row(…)]`:
//! - `rename = "column"`: the column's name when it differs from the field's;
//! - `try_from = "Type"`: read the column as `Type`, then convert it with `TryFrom` (a flag,
//!   a label, a URL built from an id);
//! - `flatten`: the field is itself a row type, read from the same row (with `try_from`, the
//!   row type it is converted from);
//! - `skip`: not read; `Default::default()`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr, Type, parse_macro_input};

/// Implements `parvis_core::db::sql::FromRow` for a struct with named fields.
#[proc_macro_derive(Row, attributes(row))]
pub fn derive_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct FieldAttrs {
    rename: Option<LitStr>,
    try_from: Option<Type>,
    flatten: bool,
    skip: bool,
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("row")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("try_from") {
                let lit: LitStr = meta.value()?.parse()?;
                out.try_from = Some(lit.parse()?);
            } else if meta.path.is_ident("flatten") {
                out.flatten = true;
            } else if meta.path.is_ident("skip") {
                out.skip = true;
            } else {
                return Err(meta.error("expected `rename`, `try_from`, `flatten` or `skip`"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "Row is derived for structs"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            input,
            "Row is derived for structs with named fields",
        ));
    };
    let sql = quote!(::parvis_core::db::sql);
    let mut reads = Vec::new();
    for field in &fields.named {
        let attrs = field_attrs(field)?;
        let Some(ident) = &field.ident else {
            continue;
        };
        let ty = &field.ty;
        let column = attrs.rename.as_ref().map_or_else(
            || ident.to_string().trim_start_matches("r#").to_string(),
            LitStr::value,
        );
        let read = match (attrs.skip, attrs.flatten, &attrs.try_from) {
            (true, _, _) => quote!(::core::default::Default::default()),
            (false, true, None) => quote!(<#ty as #sql::FromRow>::from_row(row)?),
            (false, true, Some(from)) => quote!(#sql::convert::<#from, #ty>(
                <#from as #sql::FromRow>::from_row(row)?,
                #column,
            )?),
            (false, false, None) => quote!(row.get::<#ty>(#column)?),
            (false, false, Some(from)) => {
                quote!(#sql::convert::<#from, #ty>(row.get::<#from>(#column)?, #column)?)
            }
        };
        reads.push(quote!(#ident: #read));
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #sql::FromRow for #name #ty_generics #where_clause {
            fn from_row(row: &#sql::Row) -> ::core::result::Result<Self, #sql::Error> {
                ::core::result::Result::Ok(Self { #(#reads),* })
            }
        }
    })
}

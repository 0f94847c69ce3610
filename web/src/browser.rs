//! The few browser calls the page needs, each failing quietly: a missing API (no clipboard on
//! `file://`, storage disabled) must never break the review.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlTextAreaElement, Storage, Url};

pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.now())
        .unwrap_or(0.0)
}

/// Milliseconds with one decimal, formatted by JavaScript (Rust's float formatting is large in wasm).
pub fn format_ms(ms: f64) -> String {
    js_sys::Number::from(ms)
        .to_fixed(1)
        .map(String::from)
        .unwrap_or_default()
}

/// A `performance.mark`, for the browser test to read the first-render time.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        let _ = performance.mark(name);
    }
}

pub fn element_by_id(id: &str) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// Sets a `data-*` attribute on `<body>`, where the browser test reads measurements.
pub fn set_body_data(name: &str, value: &str) {
    if let Some(body) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.body())
    {
        let _ = body.set_attribute(&format!("data-{name}"), value);
    }
}

/// The current time as RFC 3339 in UTC, for the plan's `created_at`.
pub fn iso_now() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

fn local_storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn storage_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

pub fn storage_set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

pub fn storage_remove(key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(key);
    }
}

/// Offers `text` as a file download through a `blob:` URL (no network involved).
pub fn download(file_name: &str, mime: &str, text: &str) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(anchor) = document
        .create_element("a")
        .ok()
        .and_then(|element| element.dyn_into::<HtmlAnchorElement>().ok())
    {
        anchor.set_href(&url);
        anchor.set_download(file_name);
        anchor.click();
    }
    let _ = Url::revoke_object_url(&url);
}

pub fn copy_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

pub fn print() {
    if let Some(window) = web_sys::window() {
        let _ = window.print();
    }
}

/// Focuses `textarea`, selects its 1-based `line` and scrolls it into view.
pub fn select_line(textarea: &HtmlTextAreaElement, line: u32) {
    let text = textarea.value();
    let Some((start, end)) = line_span_utf16(&text, line) else {
        return;
    };
    let _ = textarea.focus();
    let _ = textarea.set_selection_range(start, end);
    let total_lines = text.lines().count().max(1) as f64;
    let line_height = f64::from(textarea.scroll_height()) / total_lines;
    let top = (f64::from(line) - 1.0) * line_height - f64::from(textarea.client_height()) / 3.0;
    textarea.set_scroll_top(top.max(0.0) as i32);
}

/// The UTF-16 offsets (what the DOM's selection counts) of the 1-based `line` in `text`,
/// without its line break.
fn line_span_utf16(text: &str, line: u32) -> Option<(u32, u32)> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let mut offset = 0u32;
    for (number, content) in text.split('\n').enumerate() {
        let length = content.trim_end_matches('\r').encode_utf16().count() as u32;
        if number == index {
            return Some((offset, offset + length));
        }
        offset += content.encode_utf16().count() as u32 + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::line_span_utf16;

    #[test]
    fn line_spans_count_utf16_units_and_skip_line_breaks() {
        let text = "first\r\n❯ second 𝔸\nthird";
        assert_eq!(line_span_utf16(text, 1), Some((0, 5)));
        // "❯ second 𝔸" is 1 + 8 + 2 UTF-16 units.
        assert_eq!(line_span_utf16(text, 2), Some((7, 18)));
        assert_eq!(line_span_utf16(text, 3), Some((19, 24)));
        assert_eq!(line_span_utf16(text, 4), None);
        assert_eq!(line_span_utf16(text, 0), None);
    }
}

use crate::input::is_domain_name as is_domain;

#[test]
fn domains() {
    assert!(is_domain("contoso.onmicrosoft.com"));
    assert!(is_domain("example.no"));
    assert!(!is_domain("contoso"));
    assert!(!is_domain("contoso..com"));
    assert!(!is_domain("-a.com"));
    assert!(!is_domain("a.b.123"));
    assert!(!is_domain("con toso.com"));
}

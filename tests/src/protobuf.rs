//! Just enough protobuf to read the SelfSubjectAccessReview kubectl sends as
//! `application/vnd.kubernetes.protobuf`: the `k8s\0` envelope, the `runtime.Unknown` wrapper, and
//! `spec.resourceAttributes`.

/// `authorization/v1.ResourceAttributes` (field numbers from generated.proto).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    pub namespace: String,
    pub verb: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

const MAGIC: &[u8] = b"k8s\0";

/// Reads a protobuf-encoded SSAR; `None` when the bytes are not one.
pub fn read_ssar(bytes: &[u8]) -> Option<ResourceAttributes> {
    let unknown = bytes.strip_prefix(MAGIC)?;
    // runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType.
    let raw = field_bytes(unknown, 2)?;
    // SelfSubjectAccessReview: 1 metadata, 2 spec, 3 status.
    let spec = field_bytes(raw, 2)?;
    // SelfSubjectAccessReviewSpec: 1 resourceAttributes, 2 nonResourceAttributes.
    let attributes = field_bytes(spec, 1).unwrap_or(&[]);
    let text = |number| {
        field_bytes(attributes, number)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    Some(ResourceAttributes {
        namespace: text(1),
        verb: text(2),
        group: text(3),
        version: text(4),
        resource: text(5),
        subresource: text(6),
        name: text(7),
    })
}

fn varint(bytes: &[u8], position: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*position)?;
        *position += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The first length-delimited field with this number.
fn field_bytes(message: &[u8], wanted: u64) -> Option<&[u8]> {
    let mut position = 0;
    while position < message.len() {
        let tag = varint(message, &mut position)?;
        let (number, wire_type) = (tag >> 3, tag & 7);
        match wire_type {
            0 => {
                varint(message, &mut position)?;
            }
            1 => position = position.checked_add(8)?,
            2 => {
                let length = usize::try_from(varint(message, &mut position)?).ok()?;
                let end = position.checked_add(length)?;
                let value = message.get(position..end)?;
                if number == wanted {
                    return Some(value);
                }
                position = end;
            }
            5 => position = position.checked_add(4)?,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2, value.len() as u8];
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn reads_the_resource_attributes_kubectl_sends() {
        let attributes = [
            field(1, b"default"),
            field(2, b"create"),
            field(3, b"rbac.authorization.k8s.io"),
            field(5, b"clusterrolebindings"),
        ]
        .concat();
        let spec = field(1, &attributes);
        let review = [field(1, b""), field(2, &spec)].concat();
        let type_meta = [
            field(1, b"authorization.k8s.io/v1"),
            field(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let unknown = [field(1, &type_meta), field(2, &review)].concat();
        let bytes = [MAGIC, &unknown].concat();
        let read = read_ssar(&bytes).unwrap();
        assert_eq!(read.verb, "create");
        assert_eq!(read.resource, "clusterrolebindings");
        assert_eq!(read.group, "rbac.authorization.k8s.io");
        assert_eq!(read.namespace, "default");
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bytes in [
            &b""[..],
            b"k8s\0\x12\xff\xff\xff",
            b"k8s\0\x0a",
            b"{\"kind\":1}",
        ] {
            assert_eq!(read_ssar(bytes), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = read_ssar(&tail);
            let _ = read_ssar(&[MAGIC, &tail].concat());
        }
    }
}

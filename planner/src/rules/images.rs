//! `airflow-images`: every Airflow image is Astronomer Certified, recent enough, with a readable tag.

use super::{finding, item, item_evidence, worst, RuleInput};
use crate::facts::{CertifiedForm, Image};
use crate::report::{Finding, Item, Status};
use crate::version;

const ID: &str = "airflow-images";

const LIST_IMAGES: &str = "kubectl get pods -A -o jsonpath='{range .items[*]}{.spec.containers[*].image}{\"\\n\"}{end}' | grep -i airflow | sort -u";

pub fn airflow_images(ctx: &RuleInput) -> Finding {
    let images = &ctx.facts.images;
    // One item per distinct reference (a scheduler and a webserver share their image), citing
    // every line it was seen on.
    let mut items: Vec<Item> = Vec::new();
    for item in images.iter().filter_map(|image| judge(ctx, image)) {
        match items.iter_mut().find(|seen| seen.subject == item.subject) {
            Some(seen) => seen.evidence.extend(item.evidence),
            None => items.push(item),
        }
    }
    if items.is_empty() {
        let what = if images.is_empty() {
            "no Airflow image was pasted".to_string()
        } else {
            format!(
                "none of the {} pasted images is an Airflow image",
                images.len()
            )
        };
        return ctx.missing(
            ID,
            &what,
            format!(
                "paste the image of every Airflow deployment (`{LIST_IMAGES}`) and the `FROM` line of each deployment's Dockerfile"
            ),
        );
    }
    let status = worst(&items);
    let count = |s: Status| items.iter().filter(|i| i.status == s).count();
    let (message, remedy) = match status {
        Status::Pass => (
            format!(
                "all {} Airflow images are Astronomer Certified Airflow {} with pinned tags",
                items.len(),
                ctx.path.airflow
            ),
            None,
        ),
        Status::Fail => (
            format!(
                "{} of {} Airflow images cannot be upgraded (not certified, not Airflow {}, or no readable version)",
                count(Status::Fail),
                items.len(),
                ctx.path.airflow
            ),
            Some(format!(
                "rebuild each failing deployment on a certified image, e.g. `FROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild` in its Dockerfile, run `astro deploy`, and paste the images again ({})",
                ctx.path.certified_repositories.join(" or ")
            )),
        ),
        Status::Unknown => (
            format!(
                "{} of {} pasted images are placeholders, not real references",
                count(Status::Unknown),
                items.len()
            ),
            Some(format!(
                "paste the real image of every Airflow deployment (`{LIST_IMAGES}`) or the `FROM` line of its Dockerfile"
            )),
        ),
        _ => (
            format!(
                "{} of {} Airflow images need a look (floating tag, no -onbuild, or a deploy image whose base is not visible)",
                count(Status::Warn),
                items.len()
            ),
            Some("pin `<airflow>-<build>-<distro>-onbuild` tags where you can, and for deploy images paste the `FROM` line of the deployment's Dockerfile".into()),
        ),
    };
    let mut result = finding(ID, status, message, remedy, item_evidence(&items));
    result.items = items;
    result
}

/// The item for one image; None for an image that is not an Airflow image at all
/// (platform components, sidecars), which this check does not judge.
fn judge(ctx: &RuleInput, image: &Image) -> Option<Item> {
    let name = image
        .repository
        .rsplit('/')
        .next()
        .unwrap_or(&image.repository);
    let tag = image.tag.as_deref();
    let subject = image.reference.as_str();
    let judged = |status, message: String| Some(item(subject, status, message, &image.at));
    if subject.contains('<') {
        return judged(
            Status::Unknown,
            "a placeholder from a template, not an image: paste the real reference".into(),
        );
    }
    if name == ctx.path.certified_image_name {
        return match (tag, &image.certified) {
            (None, _) if image.digest.is_some() => judged(
                Status::Fail,
                "pinned by digest only: the Airflow version cannot be read; use the tag".into(),
            ),
            (None, _) => judged(
                Status::Fail,
                "untagged (means `latest`): the Airflow version cannot be read".into(),
            ),
            (Some(t), _) if t.starts_with("latest") => judged(
                Status::Fail,
                format!("`{t}` is not a version: pin `<airflow>-<build>-<distro>-onbuild`"),
            ),
            (Some(t), None) => judged(
                Status::Fail,
                format!("tag `{t}` does not follow `<airflow>-<build>-<distro>[-onbuild]`"),
            ),
            (Some(_), Some(certified)) => {
                let version = &certified.airflow_version;
                let parsed = version::parse(version);
                let accepted = parsed.as_ref().is_some_and(|v| ctx.path.airflow.matches(v));
                if certified.form == CertifiedForm::Legacy {
                    judged(
                        Status::Fail,
                        format!("old `<astronomer>-<airflow>` tag form (Airflow {version}): rebuild on a current certified tag"),
                    )
                } else if !accepted {
                    let accepts = ctx.path.airflow;
                    let message = match &parsed {
                        Some(v) if accepts.is_below(v) => {
                            format!("Airflow {version} is older than the upgrade accepts ({accepts})")
                        }
                        Some(v) if !v.pre.is_empty() => format!(
                            "Airflow {version} is a pre-release; the upgrade accepts releases {accepts}"
                        ),
                        _ => format!("Airflow {version} is not what the upgrade accepts ({accepts})"),
                    };
                    judged(Status::Fail, message)
                } else {
                    let mut gaps = Vec::new();
                    if certified.form == CertifiedForm::Floating || certified.build_number.is_none()
                    {
                        gaps.push("no build number (a floating tag moves)");
                    }
                    if !certified.onbuild {
                        gaps.push("no `-onbuild`");
                    }
                    if gaps.is_empty() {
                        judged(
                            Status::Pass,
                            format!("Astronomer Certified Airflow {version}"),
                        )
                    } else {
                        judged(
                            Status::Warn,
                            format!("Airflow {version}: {}", gaps.join(", ")),
                        )
                    }
                }
            }
        };
    }
    if tag.is_some_and(|t| t.starts_with("deploy-")) {
        return judged(
            Status::Warn,
            "deploy image: its certified base cannot be seen; paste the `FROM` line of the deployment's Dockerfile".into(),
        );
    }
    if name.contains("airflow") || image.certified.is_some() {
        return judged(
            Status::Fail,
            format!(
                "not an Astronomer Certified image (expected `{}` under any registry)",
                ctx.path.certified_image_name
            ),
        );
    }
    None
}

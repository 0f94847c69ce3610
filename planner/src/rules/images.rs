//! `airflow-images`: every Airflow image is Astronomer Certified, recent enough, with a readable tag.

use super::{finding, item, item_evidence, worst, RuleInput};
use crate::facts::{BaseShownBy, Certified, CertifiedForm, Image};
use crate::report::{Finding, Item, Status};
use crate::version;

const ID: &str = "airflow-images";

const LIST_IMAGES: &str = "kubectl get pods -A -o jsonpath='{range .items[*]}{.spec.containers[*].image}{\"\\n\"}{end}' | grep -i airflow | sort -u";

pub fn airflow_images(ctx: &RuleInput) -> Finding {
    let images = &ctx.facts.images;
    // One item per distinct reference (a scheduler and a webserver share their image), citing
    // every line it was seen on.
    let mut items: Vec<Item> = Vec::new();
    // A base judged as part of the CI-built image on it is not listed again.
    let (ci, used_bases) = ci_items(ctx);
    let judged = images
        .iter()
        .filter(|image| ci_built(image).is_none())
        .filter(|image| !used_bases.iter().any(|used| std::ptr::eq(*used, *image)))
        .filter_map(|image| judge(ctx, image))
        .chain(ci);
    for item in judged {
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
        Status::Unknown => {
            let unseen: Vec<&str> = items
                .iter()
                .filter(|i| i.status == Status::Unknown && ci_built_reference(&i.subject))
                .map(|i| i.subject.as_str())
                .collect();
            if unseen.is_empty() {
                (
                    format!(
                        "{} of {} pasted images are placeholders, not real references",
                        count(Status::Unknown),
                        items.len()
                    ),
                    Some(format!(
                        "paste the real image of every Airflow deployment (`{LIST_IMAGES}`) or the `FROM` line of its Dockerfile"
                    )),
                )
            } else {
                (
                    format!(
                        "{} of {} Airflow images were built by CI or `astro deploy` ({}): their tags say nothing of the certified image they are built on",
                        unseen.len(),
                        items.len(),
                        crate::report::name_list(&unseen, ", ")
                    ),
                    Some(format!(
                        "show each one's base: its labels, `{}`, or the `FROM` line of its deployment's Dockerfile printed with its path (`cat <project>/Dockerfile`, the project folder named after the release)",
                        inspect_command(unseen[0])
                    )),
                )
            }
        }
        _ => (
            format!(
                "{} of {} Airflow images need a look (floating tag, or no -onbuild)",
                count(Status::Warn),
                items.len()
            ),
            Some("pin `<airflow>-<build>-<distro>-onbuild` tags where you can".into()),
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
                let (status, message) = judge_certified(ctx, certified, true);
                judged(status, message)
            }
        };
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

/// What a certified image's version and tag form are worth; `tagged` is false for a version
/// read from a built image's labels, where `-onbuild` and a moving tag mean nothing.
fn judge_certified(ctx: &RuleInput, certified: &Certified, tagged: bool) -> (Status, String) {
    let version = &certified.airflow_version;
    let parsed = version::parse(version);
    let accepted = parsed.as_ref().is_some_and(|v| ctx.path.airflow.matches(v));
    if certified.form == CertifiedForm::Legacy {
        (
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
        (Status::Fail, message)
    } else {
        let mut gaps = Vec::new();
        if tagged {
            if certified.form == CertifiedForm::Floating || certified.build_number.is_none() {
                gaps.push("no build number (a floating tag moves)");
            }
            if !certified.onbuild {
                gaps.push("no `-onbuild`");
            }
        }
        if gaps.is_empty() {
            (
                Status::Pass,
                format!("Astronomer Certified Airflow {version}"),
            )
        } else {
            (
                Status::Warn,
                format!("Airflow {version}: {}", gaps.join(", ")),
            )
        }
    }
}

/// The release of a deployment image pushed by CI or `astro deploy`:
/// `registry.<base-domain>/<release>/airflow:ci-<N>` or `…:deploy-<N>`.
fn ci_built(image: &Image) -> Option<&str> {
    let mut path = image.repository.rsplit('/');
    let (name, release) = (path.next()?, path.next()?);
    let tag = image.tag.as_deref()?;
    let built = ["ci-", "deploy-"]
        .iter()
        .any(|prefix| tag.strip_prefix(prefix).is_some_and(|n| !n.is_empty()));
    (name == "airflow" && built).then_some(release)
}

/// Whether an item's subject is a CI-built image's reference.
fn ci_built_reference(subject: &str) -> bool {
    crate::input::images::parse_reference(subject).is_some_and(|parsed| {
        ci_built(&Image {
            reference: subject.to_string(),
            registry: parsed.registry,
            repository: parsed.repository,
            tag: parsed.tag,
            digest: parsed.digest,
            certified: None,
            base: None,
            at: Default::default(),
        })
        .is_some()
    })
}

/// How to show a built image's labels.
fn inspect_command(reference: &str) -> String {
    format!("docker pull {reference} && docker inspect --format '{{{{json .Config.Labels}}}}' {reference}")
}

/// Whether a base image shown by a Dockerfile's path belongs to `release`: a folder of the
/// path is named after it.
fn path_names(path: &str, release: &str) -> bool {
    path.split(['/', '\\']).any(|part| part == release)
}

/// One item per CI-built image, judged by the base the paste shows for it: its own labels, the
/// `FROM` of its deployment's Dockerfile (by path), or — when only one deployment is built by
/// CI — any `FROM` whose Dockerfile the paste does not name. Without a base: unknown. Also
/// gives the base images it judged.
fn ci_items<'f>(ctx: &RuleInput<'f>) -> (Vec<Item>, Vec<&'f Image>) {
    let images = &ctx.facts.images;
    let mut built: Vec<(&Image, &str)> = Vec::new();
    for image in images {
        if let Some(release) = ci_built(image) {
            if !built
                .iter()
                .any(|(seen, _)| seen.reference == image.reference)
            {
                built.push((image, release));
            }
        }
    }
    let mut releases: Vec<&str> = Vec::new();
    for (_, release) in &built {
        if !releases.contains(release) {
            releases.push(release);
        }
    }
    let from_bases = |of: &dyn Fn(Option<&str>) -> bool| -> Vec<&Image> {
        images
            .iter()
            .filter(|i| {
                i.base
                    .as_ref()
                    .is_some_and(|b| b.shown_by == BaseShownBy::From && of(b.of.as_deref()))
            })
            .collect()
    };
    let unclaimed = from_bases(&|of| match of {
        None => true,
        Some(path) => !releases.iter().any(|r| path_names(path, r)),
    });
    let mut used: Vec<&Image> = Vec::new();
    let items = built
        .iter()
        .map(|(image, release)| {
            let labelled = images.iter().find(|i| {
                i.reference == image.reference
                    && i.base.as_ref().is_some_and(|b| b.shown_by == BaseShownBy::Labels)
            });
            let subject = image.reference.as_str();
            if let Some(certified) = labelled.and_then(|i| i.certified.as_ref()) {
                let (status, message) = judge_certified(ctx, certified, false);
                let at = labelled.map_or(&image.at, |i| &i.at);
                let mut judged = item(subject, status, format!("built on {message} (its labels)"), at);
                judged.evidence.insert(0, image.at.clone());
                return judged;
            }
            let mut bases = from_bases(&|of| of.is_some_and(|path| path_names(path, release)));
            if bases.is_empty() && releases.len() == 1 {
                bases = unclaimed.clone();
            }
            used.extend(bases.iter().copied());
            if bases.is_empty() {
                return item(
                    subject,
                    Status::Unknown,
                    format!(
                        "built by CI or `astro deploy` for `{release}`: its tag says nothing of its certified base; show its labels (`{}`) or its Dockerfile's `FROM` line (`cat <{release} project>/Dockerfile`)",
                        inspect_command(subject)
                    ),
                    &image.at,
                );
            }
            let judged: Vec<Item> = bases
                .iter()
                .map(|base| {
                    judge(ctx, base).unwrap_or_else(|| {
                        item(
                            base.reference.as_str(),
                            Status::Fail,
                            format!(
                                "not an Astronomer Certified image (expected `{}` under any registry)",
                                ctx.path.certified_image_name
                            ),
                            &base.at,
                        )
                    })
                })
                .collect();
            let status = worst(&judged);
            let worst_base = judged
                .iter()
                .find(|j| j.status == status)
                .map_or(String::new(), |j| format!("`{}`: {}", j.subject, j.message));
            let mut result = item(subject, status, format!("built on {worst_base}"), &image.at);
            result.evidence.extend(judged.iter().flat_map(|j| j.evidence.clone()));
            result
        })
        .collect();
    (items, used)
}

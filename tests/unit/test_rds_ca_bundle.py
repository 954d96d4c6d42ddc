"""The CA bundle in the layer: it parses, covers this region and RDS Proxy, and chains up."""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path

from cryptography import x509

from tests.harness import ROOT, template_resources

BUNDLE = ROOT / "layers/courier/src/courier/data/rds-ca-bundle.pem"
LAYER_PATH = "/opt/python/courier/data/rds-ca-bundle.pem"


def certificates() -> list[x509.Certificate]:
    with warnings.catch_warnings():
        # One RDS certificate has a serial number cryptography calls non-positive (RFC 5280).
        warnings.simplefilter("ignore")
        return x509.load_pem_x509_certificates(BUNDLE.read_bytes())


def common_names() -> set[str]:
    return {
        str(c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
        for c in certificates()
    }


def test_the_bundle_parses_and_ssl_loads_it() -> None:
    # Given the bundle as the layer ships it
    certs = certificates()
    # Then every block is a CA certificate ssl accepts as a trust store
    context = ssl.create_default_context(cafile=str(BUNDLE))
    assert len(certs) >= 120
    assert context.cert_store_stats()["x509_ca"] == len(certs)


def test_it_covers_the_clusters_region_and_the_proxys_acm_roots() -> None:
    names = common_names()
    # Aurora's own endpoints in ap-northeast-2 (rds-ca-rsa2048-g1 is the default CA)
    assert "Amazon RDS ap-northeast-2 Root CA RSA2048 G1" in names
    assert "Amazon RDS ap-northeast-2 Root CA ECC384 G1" in names
    # RDS Proxy presents an ACM certificate: the Amazon Trust Services roots
    assert {"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"} <= names


def test_every_certificate_is_signed_by_one_in_the_bundle() -> None:
    # Given the certificates by subject
    certs = certificates()
    by_subject: dict[x509.Name, list[x509.Certificate]] = {}
    for cert in certs:
        by_subject.setdefault(cert.subject, []).append(cert)
    # Then each one's signature verifies against an issuer in the bundle (self-signed roots
    # included): nothing foreign was mixed into the copy
    unverified = []
    for cert in certs:
        issuers = by_subject.get(cert.issuer, [])
        if not any(_issued_by(cert, issuer) for issuer in issuers):
            unverified.append(cert.subject.rfc4514_string())
    assert not unverified


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):
        return False
    return True


def test_the_functions_point_at_the_bundles_place_in_the_layer() -> None:
    # Given the layer copies src/courier into /opt/python (layers/courier/Makefile)
    assert Path(LAYER_PATH).relative_to("/opt/python") == BUNDLE.relative_to(
        ROOT / "layers/courier/src"
    )
    # Then every function given a CA bundle is given that path
    for name, resource in template_resources().items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        value = resource["Properties"].get("Environment", {}).get("Variables", {})
        bundle = value.get("DATABASE_CA_BUNDLE")
        if bundle is None:
            continue
        paths = bundle["Fn::If"][1:2] if isinstance(bundle, dict) else [bundle]
        assert paths == [LAYER_PATH], name

"""Check docker-compose.yml without Docker: it parses, MinIO is healthy-gated, the one-shot
service creates exactly the buckets pipelines/minio.toml reads from and writes to, and the
endpoint in the pipeline file is the port MinIO publishes on loopback.

    python tests/python/check_compose.py docker-compose.yml pipelines/minio.toml
"""
import sys
import tomllib

import yaml


def bucket(root: str) -> str:
    assert root.startswith("s3://"), root
    return root[len("s3://"):].split("/", 1)[0]


def main() -> None:
    compose = yaml.safe_load(open(sys.argv[1]))
    pipeline = tomllib.load(open(sys.argv[2], "rb"))
    services = compose["services"]
    minio, create = services["minio"], services["create-buckets"]
    assert minio["command"][:2] == ["server", "/data"], minio["command"]
    assert "127.0.0.1:9000:9000" in minio["ports"], minio["ports"]
    assert minio["healthcheck"]["test"][0] == "CMD"
    assert create["depends_on"]["minio"]["condition"] == "service_healthy"
    assert create.get("restart") == "no", "the bucket creator is one-shot"
    script = " ".join(create["command"])
    created = {w.split("/", 1)[1] for w in script.split() if w.startswith("local/")}
    wanted = {bucket(pipeline["input"]["root"]), bucket(pipeline["output"]["root"])}
    assert created == wanted, f"compose creates {created}, pipelines/minio.toml uses {wanted}"
    for side in ("input", "output"):
        s3 = pipeline[side]["s3"]
        assert s3["endpoint"] == "http://127.0.0.1:9000" and s3["allow_http"] is True, s3
        assert not any("secret" in k or "access_key" in k for k in s3), f"credentials in [{side}.s3]"
    upload = services["upload-dataset"]
    assert upload["depends_on"]["create-buckets"]["condition"] == "service_completed_successfully"
    target = pipeline["input"]["root"][len("s3://"):]
    assert f"local/{target}" in " ".join(upload["command"]), "uploader writes where the pipeline reads"
    print(f"docker-compose.yml: services {sorted(services)}, buckets {sorted(created)} match pipelines/minio.toml")


if __name__ == "__main__":
    main()

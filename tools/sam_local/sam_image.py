"""The base image `sam local` runs the functions on, made offline.

SAM's own images (public.ecr.aws/lambda/provided:al2023) are pulled from a registry; where none
can be reached, this makes a stand-in from Debian's packages: the unpacked first stage of
`debootstrap --foreign --variant=minbase` (glibc, a shell, coreutils: what the functions and
SAM's image build need; nothing is configured, so no emulation is needed to make it) and the
folders Lambda mounts. No CA bundle, on purpose: the functions carry their trust store compiled in
(lambda_kit::tls), and every sample event running here shows that they need none from the image. SAM adds its Runtime Interface Emulator on top (`<image>:rapid-<arch>`).

Where an image can be pulled, use SAM's: `docker pull public.ecr.aws/lambda/provided:al2023`,
then `SAM_LOCAL_BASE_IMAGE=public.ecr.aws/lambda/provided:al2023 make sam-local`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from tools.shared.cfn import ROOT

IMAGE_REPOSITORY = "serverless-patterns-rust/lambda-base"
DEBIAN_SUITE = "bookworm"
_DEBIAN_ARCH = {"arm64": "arm64", "x86_64": "amd64"}
_MACHINE = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
_QEMU = {"arm64": "qemu-aarch64", "x86_64": "qemu-x86_64"}


def default_image(architecture: str) -> str:
    return f"{IMAGE_REPOSITORY}:{architecture}"


def docker_error() -> str | None:
    """Why Docker cannot be used here, or None."""
    if not shutil.which("docker"):
        return "there is no `docker` command"
    out = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return f"`docker info` found no engine ({(out.stderr.strip().splitlines() or ['no answer'])[-1]})"
    return None


def emulation_error(architecture: str) -> str | None:
    """Why containers of `architecture` cannot run on this machine, or None."""
    if _MACHINE.get(platform.machine()) == architecture:
        return None
    entry = Path("/proc/sys/fs/binfmt_misc") / _QEMU[architecture]
    if not entry.exists() or "enabled" not in entry.read_text():
        return (f"{architecture} containers on this {platform.machine()} machine need an emulator registered with binfmt_misc "
                f"(Debian: qemu-user-static and binfmt-support; {entry} is missing or disabled)")
    return None


def base_image_ready(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def load_image(rootfs: Path, image: str, architecture: str) -> None:
    """Loads `rootfs` into Docker as a one-layer image of `architecture`, written in the format
    `docker save` writes: `docker import --platform` is ignored by some engines (Debian 12's
    20.10 among them), and an image of the wrong platform makes SAM's image build pull."""
    work = rootfs.parent / f"{rootfs.name}-image"
    shutil.rmtree(work, ignore_errors=True)
    (work / "layer").mkdir(parents=True)
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(work / "layer" / "layer.tar"), "."], check=True)
    digest = hashlib.sha256()
    with open(work / "layer" / "layer.tar", "rb") as layer:
        for chunk in iter(lambda: layer.read(1 << 20), b""):
            digest.update(chunk)
    config = json.dumps({
        "architecture": architecture.replace("x86_64", "amd64"),
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "WorkingDir": "/var/task"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
        "history": [{"created_by": f"tools/sam_local/sam_image.py: debootstrap --foreign --variant=minbase {DEBIAN_SUITE}"}],
    }).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    (work / config_name).write_bytes(config)
    (work / "manifest.json").write_text(json.dumps([{"Config": config_name, "RepoTags": [image], "Layers": ["layer/layer.tar"]}]))
    archive = subprocess.Popen(["tar", "-C", str(work), "-c", "manifest.json", config_name, "layer"], stdout=subprocess.PIPE)
    subprocess.run(["docker", "load"], stdin=archive.stdout, check=True, stdout=subprocess.DEVNULL)
    if archive.wait() != 0:
        raise SystemExit("make sam-local: could not write the base image archive")
    shutil.rmtree(work)


def build_base_image(image: str, architecture: str) -> None:
    """Makes `image` for `architecture` from Debian's packages, and drops SAM's image built on an
    older one (SAM would keep using it)."""
    missing = [what for what, ok in (("root", os.geteuid() == 0), ("debootstrap", shutil.which("debootstrap"))) if not ok]
    if missing:
        raise SystemExit(f"make sam-local: the base image {image} is missing, and making it offline needs {', '.join(missing)}; "
                         f"or pull SAM's (see tools/sam_local/sam_image.py) and name it with SAM_LOCAL_BASE_IMAGE")
    started = time.monotonic()
    root = ROOT / ".local" / f"base-{architecture}"
    shutil.rmtree(root, ignore_errors=True)
    mirror = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
    print(f"making the base image {image} from Debian {DEBIAN_SUITE} ({mirror}) ...", flush=True)
    subprocess.run(["debootstrap", "--foreign", f"--arch={_DEBIAN_ARCH[architecture]}", "--variant=minbase", DEBIAN_SUITE,
                    str(root), mirror], check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root / "debootstrap")
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    # Whatever certificates minbase unpacked (none today) stay out, as said above.
    shutil.rmtree(root / "etc/ssl/certs", ignore_errors=True)
    for folder in ("var/task", "var/runtime", "opt", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    load_image(root, image, architecture)
    shutil.rmtree(root)
    repository = image.rsplit(":", 1)[0]
    stale = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository],
                           capture_output=True, text=True).stdout.split()
    for old in (name for name in stale if ":rapid-" in name or name.split(":", 1)[1].endswith(f"rapid-{architecture}")):
        subprocess.run(["docker", "rmi", "--force", old], capture_output=True)
    print(f"made {image} in {time.monotonic() - started:.0f} s", flush=True)

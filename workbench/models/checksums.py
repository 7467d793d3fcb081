"""The published sha256 and size of each official checkpoint file the model files register, and where
each value comes from; :func:`~workbench.models.registry.register_pretrained` fills them into specs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedChecksum:
    """The sha256 and size of an official checkpoint file, and where the values come from."""

    sha256: str
    size_bytes: int | None
    source: str


PUBLISHED_CHECKSUMS: dict[str, PublishedChecksum] = {
    "AudioNTT2020-BYOLA-64x96d512.pth": PublishedChecksum(
        "6cc64226318494f06ef41d7e5810be7d37abfd6490da45abdab48f188c5332e2",
        2_410_576,
        "the file itself in nttcslab/byol-a, pretrained_weights/ (git blob 314a35a5, commit 3e65c92)",
    ),
    "BEATs_iter3_plus_AS2M.pt": PublishedChecksum(
        "d43cbfad4d7b56381c061d7a24774f908d4d94c72961f6eb1d9090ff18cd8d34",
        361_499_833,
        "the official OneDrive file of microsoft/unilm's BEATs README (size from OneDrive's API), as "
        "pinned by downstream projects that download it from there",
    ),
    "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt": PublishedChecksum(
        "e5815275a04b6885e7b8af63d120b29bffae2cd2225cf4915e1ec6d819d3022c",
        363_145_291,
        "the official OneDrive file; the same sha256 is the Git LFS object id of byte-identical "
        "Hugging Face uploads (THUdyh/Ola_speech_encoders, SaraAlthubaiti/TinyOctopus)",
    ),
    "Cnn14_mAP=0.431.pth": PublishedChecksum(
        "0dc499e40e9761ef5ea061ffc77697697f277f6a960894903df3ada000e34b31",
        327_428_481,
        "Zenodo record 3987831 (which publishes only an md5); the sha256 and size agree across several "
        "independent projects that download it from Zenodo and a Hugging Face LFS upload",
    ),
    "MIT-ast-finetuned-audioset-10-10-0.4593.bin": PublishedChecksum(
        "9ca280ba0276a0d2243f7dd561c72b10cc7c3955a2b1f12e42e93983f24b8ca4",
        346_445_675,
        "the Git LFS object of pytorch_model.bin in the Hugging Face repository "
        "MIT/ast-finetuned-audioset-10-10-0.4593 at the pinned revision (size from its file headers)",
    ),
    "vggish-10086976.pth": PublishedChecksum(
        "10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b",
        None,
        "torchvggish release v0.1; the file name's tag 10086976 is the prefix of this sha256 (torch.hub's "
        "check_hash convention), and independent installers pin the full digest",
    ),
}
"""Checksums of official checkpoint files, by file name. No sha256 could be found for
``audioset_10_10_0.4593.pth`` (AST, Dropbox), ``Cnn14_16k_mAP=0.438.pth`` (Zenodo publishes only md5s)
or ``AudioNTT2020-BYOLA-64x96d1024.pth`` / ``-d2048.pth``: those load "unverified" (see module docstring)."""

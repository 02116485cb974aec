"""Shared fixtures: a small Indonesian news corpus written here, and the seed article."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import searchlib

# A shared, loaded CI machine must not turn slow data generation into failures.
settings.register_profile("searchlib", deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("searchlib")

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

ARTICLES = [
    {
        "id": "a1",
        "title": "Pemerintah membangun jalan tol baru di Bekasi",
        "body": "Pemerintah membangun jalan tol baru di Bekasi. Pembangunan jalan tol itu "
        "dimulai tahun ini dan ditargetkan selesai dalam dua tahun. Menteri mengatakan "
        "pembangunan infrastruktur akan membuka lapangan kerja.",
        "category": "ekonomi",
        "source": "antara",
        "published": "2021-08-02",
    },
    {
        "id": "a2",
        "title": "Taliban kuasai Kabul, penerbangan evakuasi ditambah",
        "body": "Kedutaan Besar Rusia di Kabul mengerahkan penerbangan evakuasi tambahan "
        "dari Afghanistan. Taliban mengambil alih ibu kota Afghanistan pada 15 Agustus "
        "2021. Negara-negara Barat menarik diplomat mereka.",
        "category": "internasional",
        "source": "jpnn.com",
        "published": "2021-08-30T10:00:00+07:00",
    },
    {
        "id": "a3",
        "title": "Persebaya menang atas Persela di Surabaya",
        "body": "Persebaya Surabaya meraih kemenangan atas Persela Lamongan dengan skor "
        "2-1. Pelatih Persebaya memuji permainan anak-anak asuhnya yang tampil "
        "disiplin sepanjang pertandingan.",
        "category": "olahraga",
        "source": "kumparan",
        "published": "2021-09-12",
    },
    {
        "id": "a4",
        "title": "Harga beras naik menjelang akhir tahun",
        "body": "Harga beras di pasar tradisional naik menjelang akhir tahun. Pedagang "
        "mengatakan pasokan dari petani berkurang karena musim hujan. Pemerintah "
        "berjanji menjaga harga tetap stabil.",
        "category": "ekonomi",
        "source": "antara",
        "published": "2020-12-20",
    },
    {
        "id": "a5",
        "title": "Vaksinasi Covid-19 untuk pelajar dimulai",
        "body": "Program vaksinasi Covid-19 untuk pelajar dimulai pekan ini di Jakarta. "
        "Dinas kesehatan menyiapkan ribuan dosis vaksin. Orang tua diminta "
        "mendampingi anak-anak mereka saat vaksinasi.",
        "category": "kesehatan",
        "source": "cnn indonesia",
        "published": "2021-07-05",
    },
    {
        "id": "a6",
        "title": "Bank Indonesia pertahankan suku bunga",
        "body": "Bank Indonesia mempertahankan suku bunga acuan. Sektor perbankan "
        "diharapkan menyalurkan kredit lebih banyak untuk mendorong pemulihan ekonomi.",
        "category": "ekonomi",
        "source": "kumparan",
    },
    {
        "id": "a7",
        "title": "Wisatawan kembali ramaikan Bali",
        "body": "Wisatawan mancanegara kembali meramaikan pantai-pantai di Bali. Pelaku "
        "usaha pariwisata berharap kunjungan wisatawan terus meningkat hingga akhir "
        "tahun.",
        "category": "wisata",
        "source": "antara",
        "published": "2021-10-01",
    },
    {
        "id": "a8",
        "title": "Gempa guncang Maluku, warga mengungsi",
        "body": "Gempa berkekuatan 6,1 mengguncang Maluku. Ribuan warga mengungsi ke "
        "dataran tinggi karena khawatir tsunami. Badan Meteorologi menyatakan gempa "
        "tidak berpotensi tsunami.",
        "category": "nasional",
        "source": "cnn indonesia",
        "published": "2021-06-16",
    },
]


@pytest.fixture
def articles() -> list[dict]:
    return [dict(a) for a in ARTICLES]


@pytest.fixture
def index(tmp_path, articles) -> searchlib.Index:
    ix = searchlib.Index.create(tmp_path / "ix")
    ix.add(articles)
    yield ix
    ix.close()


@pytest.fixture
def seed_file() -> Path:
    return next(SEEDS.glob("*.txt"))

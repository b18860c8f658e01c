"""Sky cutouts against a local HTTP server on 127.0.0.1: fetched once then cached, a clear offline state,
non-images refused; in the window the fetch runs on a worker and the panel shows the image."""
import http.server
import threading

import pytest
from PyQt6.QtCore import QBuffer, QIODevice, Qt
from PyQt6.QtGui import QColor, QImage

from test_app import db, open_window  # noqa: F401 (fixtures)
from casiglo_gui.core.inspection.cutout import CutoutFetcher


def jpeg_bytes() -> bytes:
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    image.fill(QColor(200, 120, 40))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "JPG")
    return bytes(buffer.data())


class CutoutServer:
    """A stand-in for the Legacy Survey cutout service: answers /cutout.jpg with ``body``."""

    def __init__(self, body: bytes):
        self.body, self.requests = body, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                if not self.path.startswith("/cutout.jpg?"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cutout.jpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    running = CutoutServer(jpeg_bytes())
    yield running
    running.close()


def test_a_cutout_is_fetched_once_then_read_from_the_cache(server, tmp_path):
    fetcher = CutoutFetcher(tmp_path / "cache", base_url=server.url)
    first = fetcher.fetch(146.9341, -0.6704)
    assert first.state == "fetched" and first.path.read_bytes() == server.body
    assert "ra=146.934100" in server.requests[0] and "dec=-0.670400" in server.requests[0]
    again = fetcher.fetch(146.9341, -0.6704)
    assert again.state == "cached" and again.path == first.path and len(server.requests) == 1


def test_offline_no_position_and_non_images_are_said_and_not_cached(server, tmp_path):
    server.body = b"<html>rate limited</html>"
    fetcher = CutoutFetcher(tmp_path / "cache", base_url=server.url)
    refused = fetcher.fetch(10.0, 20.0)
    assert refused.state == "bad response" and refused.path is None
    assert not any((tmp_path / "cache").glob("*.jpg"))
    assert fetcher.fetch(None, None).state == "no position"
    server.close()
    offline = CutoutFetcher(tmp_path / "cache", base_url=server.url, timeout_s=2).fetch(10.0, 20.0)
    assert offline.state == "offline" and "offline" in offline.message


def test_the_window_fetches_on_a_worker_and_shows_the_image(open_window, qtbot, data_dir, server, tmp_path):
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits"])
    window.cutouts = CutoutFetcher(tmp_path / "cache", base_url=server.url)
    assert window.sky_image.state == "idle"
    qtbot.keyClick(window, Qt.Key.Key_I)
    assert window.sky_image.state == "fetching"       # the key returned before the image came
    qtbot.waitUntil(lambda: window.sky_image.state == "fetched", timeout=10000)
    assert not window.sky_image.image.pixmap().isNull() and len(server.requests) == 1
    server.close()
    window.cutouts = CutoutFetcher(tmp_path / "other-cache", base_url=server.url, timeout_s=2)
    qtbot.keyClick(window, Qt.Key.Key_I)
    qtbot.waitUntil(lambda: window.sky_image.state == "offline", timeout=10000)
    assert "offline" in window.sky_image.status.text()

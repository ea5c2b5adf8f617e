"""Camera errors as flet-camera reports them, classified for the screens' messages."""

import pytest

from mobile.i18n import Translator
from mobile.views import camera_failure
from mobile.views.checklist import _camera_error_text


@pytest.mark.parametrize(("text", "kind"), [
    ("CameraException(cameraNotFound, No camera found for the given camera options.)", "missing"),
    ("CameraException(CameraAccessDenied, NotAllowedError: Permission denied)", "denied"),
    ("CameraException(cameraNotReadable, Could not start video source)", "failed"),
])
def test_camera_failure_kinds(text, kind):
    assert camera_failure(RuntimeError(text)) == kind


def test_missing_camera_message_is_chinese():
    text = _camera_error_text(Translator("zh-CN"), RuntimeError("CameraException(cameraNotFound, No camera found)"))

    assert text.startswith("未找到相机")
    assert "CameraException" not in text

# Writes the text file IN as a C++ header OUT defining `inline constexpr char NAME[]`.
# NAME is a global: give each embedded file its own (one binary may link several services).
# Run as: cmake -DIN=... -DOUT=... -DNAME=... -P embed_text.cmake
file(READ "${IN}" content)
file(WRITE "${OUT}.tmp" "// Generated from ${IN}; edit that file.\n#pragma once\ninline constexpr char ${NAME}[] = R\"gridloop_embed(${content})gridloop_embed\";\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")

# cmake -DIN=DIR -DOUT=FILE.cpp -P EmbedWebAssets.cmake
# Writes FILE.cpp defining scepter::web::built_assets() (web/console.h) with every file in
# DIR as a byte array, its Content-Type, a strong ETag from its SHA-256, and whether its
# name carries esbuild's content hash (NAME-HASH.ext: cacheable for good).
file(GLOB files RELATIVE ${IN} ${IN}/*)
list(SORT files)
set(arrays "")
set(entries "")
set(index 0)
foreach(name ${files})
  file(READ ${IN}/${name} hex HEX)
  file(SHA256 ${IN}/${name} sha)
  string(SUBSTRING ${sha} 0 32 tag)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(name MATCHES "\\.png$")
    set(type "image/png")
  elseif(name MATCHES "\\.json$")
    set(type "application/json")
  else()
    set(type "application/octet-stream")
  endif()
  if(name MATCHES "-[A-Z0-9]+\\.[a-z]+$")
    set(immutable true)
  else()
    set(immutable false)
  endif()
  string(APPEND arrays "const unsigned char kFile${index}[] = {${bytes}0};\n")
  string(APPEND entries
         "    {\"${name}\", \"${type}\", \"\\\"${tag}\\\"\", ${immutable},\n"
         "     {reinterpret_cast<const char*>(kFile${index}), ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE ${OUT}.new
     "// Generated from the web console's build by cmake/EmbedWebAssets.cmake.\n"
     "#include \"web/console.h\"\n\n"
     "namespace scepter::web {\nnamespace {\n${arrays}\n"
     "const Asset kAssets[] = {\n${entries}};\n}  // namespace\n\n"
     "std::span<const Asset> built_assets() { return kAssets; }\n\n"
     "}  // namespace scepter::web\n")
# Only a real change touches OUT, so an unchanged console does not recompile.
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.new ${OUT})

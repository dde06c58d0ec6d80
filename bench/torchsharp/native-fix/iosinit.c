/* Defines std::ios_base_library_init(), the empty marker function that GCC 13's libstdc++ (symbol version
   GLIBCXX_3.4.32) exports and TorchSharp 0.107's libLibTorchSharp.so references. Debian 12's libstdc++ 12
   stops at GLIBCXX_3.4.30 and initialises iostreams through ios_base::Init objects instead, so an empty
   definition is all that is missing. run.sh preloads this library (see README.md). */
void _ZSt21ios_base_library_initv(void) {}

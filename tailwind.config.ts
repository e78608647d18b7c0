import type { Config } from 'tailwindcss'

export default {
  content: ['./app/**/*.{ts,tsx}'],
  theme: {
    extend: {
      colors: {
        brand: {
          50: '#eef7ff',
          100: '#d9edff',
          500: '#2f7cf6',
          600: '#1b63e0',
          700: '#154fb5',
        },
      },
    },
  },
  plugins: [],
} satisfies Config
